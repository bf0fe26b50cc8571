//! The contract cases, one public async function each; see the `TaskQueue` docs.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use veil_domain::{Delivery, FailOutcome, JobId, QueueItem, QueueStats, TaskId};

use crate::{QueueError, TaskQueue};

/// A lease no test outlives.
const LONG: Duration = Duration::from_secs(60);
/// A lease tests wait out.
const SHORT: Duration = Duration::from_millis(200);
/// Comfortably longer than [`SHORT`].
const PAST_SHORT: Duration = Duration::from_millis(350);

/// `count` items of one new job, with `max_attempts` each.
pub fn items(count: u32, max_attempts: u32) -> Vec<QueueItem> {
    let job_id = JobId::new_random();
    (0..count)
        .map(|index| QueueItem {
            task_id: TaskId::for_job(job_id, index),
            job_id,
            index,
            kind: "sleep".to_string(),
            params: json!({"index": index, "seconds": 0.25}),
            max_attempts,
        })
        .collect()
}

async fn claim(queue: &dyn TaskQueue, lease: Duration) -> Option<Delivery> {
    queue.claim("worker-test", lease).await.expect("claim")
}

async fn claim_some(queue: &dyn TaskQueue, lease: Duration) -> Delivery {
    claim(queue, lease).await.expect("an item is deliverable")
}

fn assert_lease_lost<T: std::fmt::Debug>(result: Result<T, QueueError>) {
    assert!(
        matches!(result, Err(QueueError::LeaseLost { .. })),
        "expected LeaseLost, got {result:?}"
    );
}

/// Enqueueing a known task id does nothing, even after the item completed.
pub async fn enqueue_is_idempotent(queue: Arc<dyn TaskQueue>) {
    let batch = items(3, 3);
    queue.enqueue(&batch).await.expect("enqueue");
    let mut changed = batch.clone();
    changed[0].params = json!({"changed": true});
    queue.enqueue(&changed).await.expect("enqueue again");
    assert_eq!(queue.stats().await.expect("stats").ready, 3);

    let first = claim_some(&*queue, LONG).await;
    assert_eq!(first.item, batch[0], "the original item is kept");
    assert_eq!(first.attempt, 1);
    assert_eq!(first.previous_error, None);
    queue.complete(&first).await.expect("complete");
    queue
        .enqueue(&batch[..1])
        .await
        .expect("enqueue completed item");
    let delivered: Vec<TaskId> = vec![
        claim_some(&*queue, LONG).await.item.task_id,
        claim_some(&*queue, LONG).await.item.task_id,
    ];
    assert_eq!(delivered, vec![batch[1].task_id, batch[2].task_id]);
    assert!(
        claim(&*queue, LONG).await.is_none(),
        "a completed item is never delivered again"
    );
}

/// Items are delivered oldest first, whole, each with a fresh lease.
pub async fn claims_oldest_first(queue: Arc<dyn TaskQueue>) {
    assert!(
        claim(&*queue, LONG).await.is_none(),
        "an empty queue delivers nothing"
    );
    let first = items(3, 2);
    let second = items(2, 2);
    queue.enqueue(&first).await.expect("enqueue first");
    queue.enqueue(&second).await.expect("enqueue second");
    let mut tokens = HashSet::new();
    for expected in first.iter().chain(&second) {
        let before = veil_domain::now();
        let delivery = claim_some(&*queue, LONG).await;
        assert_eq!(&delivery.item, expected);
        assert!(delivery.lease_expires_at >= before + chrono::Duration::seconds(59));
        assert!(
            tokens.insert(delivery.lease_token),
            "lease tokens are fresh"
        );
    }
    assert!(claim(&*queue, LONG).await.is_none());
}

/// Concurrent claimers each get distinct items, and every item is delivered exactly once.
pub async fn concurrent_claimers_never_share_an_item(queue: Arc<dyn TaskQueue>) {
    let batch = items(20, 3);
    queue.enqueue(&batch).await.expect("enqueue");
    let claimers = (0..8).map(|n| {
        let queue = queue.clone();
        tokio::spawn(async move {
            let mut claimed = Vec::new();
            while let Some(delivery) = queue
                .claim(&format!("worker-{n}"), LONG)
                .await
                .expect("claim")
            {
                claimed.push(delivery.item.task_id);
            }
            claimed
        })
    });
    let mut all = Vec::new();
    for claimer in claimers.collect::<Vec<_>>() {
        all.extend(claimer.await.expect("claimer"));
    }
    let unique: HashSet<TaskId> = all.iter().copied().collect();
    assert_eq!(all.len(), 20, "every item is claimed once: {all:?}");
    assert_eq!(unique, batch.iter().map(|item| item.task_id).collect());
}

/// A delivery that keeps heartbeating is not redelivered, and can then be completed.
pub async fn heartbeat_extends_the_lease(queue: Arc<dyn TaskQueue>) {
    queue.enqueue(&items(1, 3)).await.expect("enqueue");
    let delivery = claim_some(&*queue, SHORT).await;
    for _ in 0..6 {
        tokio::time::sleep(SHORT / 3).await;
        queue.heartbeat(&delivery, SHORT).await.expect("heartbeat");
        assert!(
            claim(&*queue, SHORT).await.is_none(),
            "a live lease is not re-claimable"
        );
    }
    queue.complete(&delivery).await.expect("complete");
    tokio::time::sleep(PAST_SHORT).await;
    assert!(claim(&*queue, SHORT).await.is_none());
    assert_eq!(queue.stats().await.expect("stats"), QueueStats::default());
}

/// An expired lease makes the item deliverable again, as the next attempt.
pub async fn expired_lease_is_redelivered(queue: Arc<dyn TaskQueue>) {
    let batch = items(1, 3);
    queue.enqueue(&batch).await.expect("enqueue");
    let first = claim_some(&*queue, SHORT).await;
    assert!(claim(&*queue, SHORT).await.is_none());
    tokio::time::sleep(PAST_SHORT).await;
    let second = claim_some(&*queue, LONG).await;
    assert_eq!(second.item, batch[0]);
    assert_eq!(second.attempt, 2);
    assert_eq!(second.previous_error.as_deref(), Some("lease expired"));
    assert_ne!(second.lease_token, first.lease_token);
    queue.complete(&second).await.expect("complete redelivery");
}

/// After a re-claim, the old delivery can no longer heartbeat, complete, fail or release.
pub async fn stale_lease_token_is_refused(queue: Arc<dyn TaskQueue>) {
    queue.enqueue(&items(1, 5)).await.expect("enqueue");
    let stale = claim_some(&*queue, SHORT).await;
    tokio::time::sleep(PAST_SHORT).await;
    let current = claim_some(&*queue, LONG).await;
    assert_lease_lost(queue.heartbeat(&stale, LONG).await);
    assert_lease_lost(queue.complete(&stale).await);
    assert_lease_lost(queue.fail(&stale, "too late").await);
    assert_lease_lost(queue.release(&stale).await);
    queue
        .heartbeat(&current, LONG)
        .await
        .expect("current heartbeat");
    queue.complete(&current).await.expect("current completes");
    assert_lease_lost(queue.complete(&current).await);
}

/// A failed attempt is retried after its backoff, carrying the error.
pub async fn failed_item_is_retried_after_backoff(queue: Arc<dyn TaskQueue>) {
    queue.enqueue(&items(1, 3)).await.expect("enqueue");
    let first = claim_some(&*queue, LONG).await;
    let before = veil_domain::now();
    let outcome = queue.fail(&first, "boom").await.expect("fail");
    let FailOutcome::Retry { not_before } = outcome else {
        panic!("expected a retry, got {outcome:?}");
    };
    assert!(not_before >= before + chrono::Duration::milliseconds(200));
    assert!(not_before <= veil_domain::now() + chrono::Duration::milliseconds(200));
    assert!(
        claim(&*queue, LONG).await.is_none(),
        "not deliverable during its backoff"
    );
    assert_eq!(queue.stats().await.expect("stats").delayed, 1);
    assert_lease_lost(queue.complete(&first).await);

    tokio::time::sleep(Duration::from_millis(450)).await;
    let second = claim_some(&*queue, LONG).await;
    assert_eq!(second.attempt, 2);
    assert_eq!(second.previous_error.as_deref(), Some("boom"));
    let FailOutcome::Retry { not_before } = queue.fail(&second, "boom again").await.expect("fail")
    else {
        panic!("expected a second retry");
    };
    let delay = not_before - veil_domain::now();
    assert!(
        delay > chrono::Duration::milliseconds(240),
        "backoff doubles: {delay}"
    );
}

/// When the last attempt fails the item is dead-lettered with its last error.
pub async fn item_is_dead_lettered_after_max_attempts(queue: Arc<dyn TaskQueue>) {
    let batch = items(2, 2);
    queue.enqueue(&batch).await.expect("enqueue");
    let first = claim_some(&*queue, LONG).await;
    assert!(matches!(
        queue.fail(&first, "first").await,
        Ok(FailOutcome::Retry { .. })
    ));
    tokio::time::sleep(Duration::from_millis(450)).await;
    let mut second = claim_some(&*queue, LONG).await;
    if second.item.task_id != batch[0].task_id {
        queue.complete(&second).await.expect("complete other item");
        second = claim_some(&*queue, LONG).await;
    }
    assert_eq!((second.item.task_id, second.attempt), (batch[0].task_id, 2));
    assert_eq!(
        queue.fail(&second, "second").await.expect("fail"),
        FailOutcome::DeadLettered
    );

    let dead = queue.dead_letters(10).await.expect("dead letters");
    assert_eq!(dead, vec![(batch[0].clone(), "second".to_string())]);
    assert_eq!(queue.stats().await.expect("stats").dead, 1);
    queue
        .enqueue(&batch[..1])
        .await
        .expect("re-enqueue dead item");
    assert_eq!(
        queue.stats().await.expect("stats").dead,
        1,
        "re-enqueueing is ignored"
    );
}

/// A lease expiring on the last attempt dead-letters the item with `lease expired`.
pub async fn expiry_on_last_attempt_dead_letters(queue: Arc<dyn TaskQueue>) {
    let batch = items(1, 1);
    queue.enqueue(&batch).await.expect("enqueue");
    let only = claim_some(&*queue, SHORT).await;
    tokio::time::sleep(PAST_SHORT).await;
    assert!(
        claim(&*queue, LONG).await.is_none(),
        "an exhausted item is not redelivered"
    );
    let dead = queue.dead_letters(10).await.expect("dead letters");
    assert_eq!(dead, vec![(batch[0].clone(), "lease expired".to_string())]);
    assert_lease_lost(queue.complete(&only).await);
    let stats = queue.stats().await.expect("stats");
    assert_eq!((stats.dead, stats.leased, stats.ready), (1, 0, 0));
}

/// Releasing gives the item back at once without spending an attempt.
pub async fn release_keeps_the_attempt_count(queue: Arc<dyn TaskQueue>) {
    queue.enqueue(&items(1, 1)).await.expect("enqueue");
    let first = claim_some(&*queue, LONG).await;
    queue.release(&first).await.expect("release");
    assert_lease_lost(queue.release(&first).await);
    let again = claim_some(&*queue, LONG).await;
    assert_eq!(again.attempt, 1, "a released delivery does not count");
    assert_eq!(again.item, first.item);
    assert_lease_lost(queue.complete(&first).await);
    queue.complete(&again).await.expect("complete");
}

/// Cancelling a job removes its ready and leased items, and only those.
pub async fn cancel_job_removes_unfinished_items(queue: Arc<dyn TaskQueue>) {
    let cancelled = items(3, 3);
    let kept = items(2, 3);
    queue
        .enqueue(&cancelled)
        .await
        .expect("enqueue cancelled job");
    let leased = claim_some(&*queue, LONG).await;
    let done = claim_some(&*queue, LONG).await;
    queue.complete(&done).await.expect("complete");
    queue.enqueue(&kept).await.expect("enqueue kept job");

    let job = cancelled[0].job_id;
    assert_eq!(
        queue.cancel_job(job).await.expect("cancel"),
        2,
        "one leased + one ready item"
    );
    assert_eq!(queue.cancel_job(job).await.expect("cancel again"), 0);
    assert_lease_lost(queue.complete(&leased).await);
    for expected in &kept {
        assert_eq!(&claim_some(&*queue, LONG).await.item, expected);
    }
    assert!(claim(&*queue, LONG).await.is_none());
    queue
        .enqueue(&cancelled)
        .await
        .expect("re-enqueue cancelled items");
    assert!(
        claim(&*queue, LONG).await.is_none(),
        "cancelled items are not revived"
    );
}

/// Stats count ready, delayed, leased and dead items.
pub async fn stats_count_each_condition(queue: Arc<dyn TaskQueue>) {
    assert_eq!(queue.stats().await.expect("stats"), QueueStats::default());
    queue
        .enqueue(&items(3, 1))
        .await
        .expect("enqueue single-attempt items");
    queue
        .enqueue(&items(3, 3))
        .await
        .expect("enqueue retried items");
    let dead = claim_some(&*queue, LONG).await;
    assert_eq!(
        queue.fail(&dead, "fatal").await.expect("fail"),
        FailOutcome::DeadLettered
    );
    let _leased = claim_some(&*queue, LONG).await;
    let completed = claim_some(&*queue, LONG).await;
    queue.complete(&completed).await.expect("complete");
    let delayed = claim_some(&*queue, LONG).await;
    assert!(delayed.item.max_attempts > 1);
    assert!(matches!(
        queue.fail(&delayed, "retry").await,
        Ok(FailOutcome::Retry { .. })
    ));
    let stats = queue.stats().await.expect("stats");
    assert_eq!(
        stats,
        QueueStats {
            ready: 2,
            delayed: 1,
            leased: 1,
            dead: 1
        }
    );
}
