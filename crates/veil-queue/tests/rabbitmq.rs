//! `RabbitQueue` against the broker at `VEIL_TEST_AMQP_URL` (skipped when unset): the conformance suite,
//! each case under its own queue prefix, and what only a broker can show — redelivery when a consumer's
//! connection dies, dead letters read by another process, reconnection, cancellation across processes.
#![cfg(feature = "rabbitmq")]

use std::time::Duration;

use veil_domain::{FailOutcome, TaskId};
use veil_queue::testsuite::{amqp_url_from_env, items, rabbit_settings, suite_settings};
use veil_queue::{QueueError, RabbitQueue, RabbitSettings, TaskQueue};

veil_queue::queue_test_suite!(veil_queue::testsuite::rabbit_queue);

const LONG: Duration = Duration::from_secs(60);

/// Two processes' worth of queues on one fresh prefix; the first is torn down at the end.
async fn two_instances() -> Option<(RabbitQueue, RabbitQueue)> {
    let url = amqp_url_from_env()?;
    let settings = rabbit_settings(&url, suite_settings());
    let first = RabbitQueue::connect(settings.clone())
        .await
        .expect("connect first");
    let second = RabbitQueue::connect(settings)
        .await
        .expect("connect second");
    Some((first, second))
}

async fn teardown(queue: RabbitQueue) {
    queue.delete_topology().await.expect("delete test queues");
    queue.close().await;
}

/// Polls `claim` until it delivers or `within` passes.
async fn claim_within(queue: &dyn TaskQueue, within: Duration) -> Option<veil_domain::Delivery> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match queue.claim("poller", LONG).await {
            Ok(Some(delivery)) => return Some(delivery),
            Ok(None) | Err(QueueError::Broker(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(None) => return None,
            Err(error) => panic!("claim: {error}"),
        }
    }
}

/// A consumer whose connection dies holding a lease: the broker requeues the message and another
/// process gets it as the next attempt, `lease expired`; the dead consumer can no longer complete it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_consumer_connection_redelivers_as_next_attempt() {
    let Some((survivor, doomed)) = two_instances().await else {
        return;
    };
    let batch = items(1, 3);
    survivor.enqueue(&batch).await.expect("enqueue");
    let lost = doomed
        .claim("doomed", LONG)
        .await
        .expect("claim")
        .expect("an item");
    assert_eq!(lost.attempt, 1);
    assert!(
        survivor
            .claim("survivor", LONG)
            .await
            .expect("claim")
            .is_none(),
        "leased elsewhere"
    );
    doomed.close().await;

    let again = claim_within(&survivor, Duration::from_secs(5))
        .await
        .expect("redelivered");
    assert_eq!(again.item, batch[0]);
    assert_eq!(again.attempt, 2);
    assert_eq!(again.previous_error.as_deref(), Some("lease expired"));
    assert!(
        doomed.complete(&lost).await.is_err(),
        "the dead consumer's lease is gone"
    );
    survivor.complete(&again).await.expect("complete");
    assert!(survivor
        .claim("survivor", LONG)
        .await
        .expect("claim")
        .is_none());
    teardown(survivor).await;
}

/// A dead letter lives in the broker with its last error: another process reads it, and it stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letter_carries_the_error_across_processes() {
    let Some((worker, observer)) = two_instances().await else {
        return;
    };
    let batch = items(2, 1);
    worker.enqueue(&batch).await.expect("enqueue");
    let first = worker.claim("w", LONG).await.expect("claim").expect("item");
    let error = "decoding upload 3: unexpected end of input";
    assert_eq!(
        worker.fail(&first, error).await.expect("fail"),
        FailOutcome::DeadLettered
    );
    for _ in 0..2 {
        let dead = observer.dead_letters(10).await.expect("dead letters");
        assert_eq!(
            dead,
            vec![(batch[0].clone(), error.to_string())],
            "browsing keeps them"
        );
    }
    assert_eq!(observer.stats().await.expect("stats").dead, 1);
    assert_eq!(observer.stats().await.expect("stats").ready, 1);
    assert_eq!(
        observer.dead_letters(0).await.expect("dead letters"),
        vec![]
    );
    observer.close().await;
    teardown(worker).await;
}

/// After the connection is force-closed the queue reconnects by itself: leases held on the old
/// connection are lost (the item comes back as the next attempt) and every operation works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_the_connection_is_closed() {
    let Some(url) = amqp_url_from_env() else {
        return;
    };
    let queue = RabbitQueue::connect(rabbit_settings(&url, suite_settings()))
        .await
        .expect("connect");
    let batch = items(2, 3);
    queue.enqueue(&batch[..1]).await.expect("enqueue");
    let held = queue.claim("w", LONG).await.expect("claim").expect("item");

    queue.break_connection_for_tests().await;
    assert!(matches!(
        queue.complete(&held).await,
        Err(QueueError::LeaseLost { .. })
    ));
    queue
        .enqueue(&batch[1..])
        .await
        .expect("enqueue after reconnect");
    // The expired item goes back to the tail of the ready queue, so it may come second.
    let mut claimed = Vec::new();
    for _ in 0..2 {
        let delivery = claim_within(&queue, Duration::from_secs(10))
            .await
            .expect("an item");
        queue.complete(&delivery).await.expect("complete");
        claimed.push(delivery);
    }
    claimed.sort_by_key(|delivery| delivery.item.index);
    let summary: Vec<(TaskId, u32, Option<&str>)> = claimed
        .iter()
        .map(|d| (d.item.task_id, d.attempt, d.previous_error.as_deref()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (batch[0].task_id, 2, Some("lease expired")),
            (batch[1].task_id, 1, None)
        ]
    );
    let stats = queue.stats().await.expect("stats");
    assert_eq!((stats.ready, stats.leased), (0, 0));
    teardown(queue).await;
}

/// A cancellation published by one process makes the others skip the job's items and drop their
/// leases; a process that starts afterwards learns it from the control stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_reaches_other_processes() {
    let Some((server, worker)) = two_instances().await else {
        return;
    };
    let cancelled = items(3, 3);
    let kept = items(1, 3);
    server.enqueue(&cancelled).await.expect("enqueue");
    server.enqueue(&kept).await.expect("enqueue");
    let leased = worker.claim("w", LONG).await.expect("claim").expect("item");
    assert_eq!(leased.item.job_id, cancelled[0].job_id);
    assert_eq!(
        server
            .cancel_job(cancelled[0].job_id)
            .await
            .expect("cancel"),
        3
    );

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while worker.heartbeat(&leased, LONG).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker never heard of the cancel"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let late: RabbitQueue = RabbitQueue::connect(RabbitSettings {
        connect_timeout: Duration::from_secs(10),
        ..worker.settings().clone()
    })
    .await
    .expect("connect a late process (it replays the control stream first)");
    let next = late
        .claim("late", LONG)
        .await
        .expect("claim")
        .expect("the kept item");
    assert_eq!(next.item, kept[0]);
    assert!(late.claim("late", LONG).await.expect("claim").is_none());
    late.complete(&next).await.expect("complete");
    late.close().await;
    worker.close().await;
    teardown(server).await;
}

/// Copies of a task that another process completed are skipped at claim time, and ignored at enqueue
/// time once the settlement has reached the enqueuing process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settled_task_copies_are_skipped_across_processes() {
    let Some((first, second)) = two_instances().await else {
        return;
    };
    let batch = items(1, 3);
    first.enqueue(&batch).await.expect("enqueue");
    second
        .enqueue(&batch)
        .await
        .expect("enqueue a copy it cannot know about");
    assert_eq!(first.stats().await.expect("stats").ready, 2);
    let delivery = first.claim("a", LONG).await.expect("claim").expect("item");
    first.complete(&delivery).await.expect("complete");
    tokio::time::sleep(Duration::from_secs(1)).await; // the settlement travels the stream
    assert!(
        second.claim("b", LONG).await.expect("claim").is_none(),
        "the copy of a settled task is skipped"
    );
    second.enqueue(&batch).await.expect("enqueue again");
    assert_eq!(
        second.stats().await.expect("stats").ready,
        0,
        "a settled id is ignored"
    );
    second.close().await;
    teardown(first).await;
}
