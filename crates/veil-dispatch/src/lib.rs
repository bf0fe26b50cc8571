//! The secure-environment dispatcher.
//!
//! Data owners keep their tables inside their own environment. There a [`Dispatcher`] takes task
//! messages from the environment's queue (RabbitMQ when `queue.url` is set, an embedded queue
//! otherwise), reads the private sources only it is configured for ([`Sources`]), runs the task, writes
//! the task's result to the shared object store and reports status and progress back over a
//! [`StatusChannel`]. It opens only outbound connections, to the broker and the object store, and needs
//! no metadata database.
//!
//! On the hub, [`DispatchExecutor`] is the [`TaskExecutor`](veil_service::TaskExecutor) that forwards a
//! task whose parameters name an `environment` to that environment's queue as a versioned
//! [`DispatchMessage`] (parameters and references only, never data) and waits for its outcome, relaying
//! progress to the hub's task; other tasks run as before. The durable outcome is in the object store
//! (the task's result, or an error document beside it), so a hub worker that dies while waiting is
//! replaced by one that finds it.
//!
//! The synthetic-data kinds `synth.train` ([`SynthTrainJob`], [`SynthTrainTask`]), `synth.generate`
//! ([`SynthGenerateJob`], which also runs on the hub's workers) and `synth.analyse`
//! ([`SynthAnalyseJob`]) seal models and reports with the root key ([`RootKeys`]).

mod dispatcher;
mod error;
mod executor;
mod message;
mod postgres_source;
mod profile;
mod s3_source;
mod sources;
mod status;
mod synth;
mod tables;

pub use dispatcher::{
    DispatchContext, DispatchHandlers, DispatchTask, Dispatcher, DispatcherSettings, MessageRunner,
};
pub use error::DispatchError;
pub use executor::{DispatchExecutor, EnvironmentQueues};
pub use message::{error_key, DispatchMessage, MESSAGE_VERSION};
pub use profile::{SourceProfileJob, SourceProfileParams, SourceProfileTask, SOURCE_PROFILE};
pub use s3_source::S3Settings;
pub use sources::{Source, Sources};
pub use status::{
    LocalStatusChannel, RabbitStatusChannel, StatusChannel, StatusState, StatusUpdate,
};
pub use synth::{
    staging_key, AnalyseParams, EnvironmentJob, EnvironmentTaskParams, GenerateParams, RootKeys,
    SynthAnalyseJob, SynthAnalyseTask, SynthGenerateJob, SynthGenerateTask, SynthTrainJob,
    SynthTrainTask, TrainParams, MODEL_CONTEXT, REPORT_CONTEXT, REPORT_FORMAT, SYNTH_ANALYSE,
    SYNTH_GENERATE, SYNTH_TRAIN,
};
