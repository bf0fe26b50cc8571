//! The blob key layout. Keys are deterministic, so a re-run task overwrites its own result with the same
//! content instead of adding a second one.

use veil_domain::JobId;

/// Where task `index` of `job` commits its result.
pub fn task_result_key(job: JobId, index: u32) -> String {
    format!("jobs/{job}/tasks/{index:06}/result")
}

/// Where a job's final step commits the job's result.
pub fn job_result_key(job: JobId) -> String {
    format!("jobs/{job}/result")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_deterministic_and_valid() {
        let job = JobId::new_random();
        assert_eq!(task_result_key(job, 7), task_result_key(job, 7));
        assert_ne!(task_result_key(job, 7), task_result_key(job, 8));
        veil_blob::validate_key(&task_result_key(job, 7)).unwrap();
        veil_blob::validate_key(&job_result_key(job)).unwrap();
    }
}
