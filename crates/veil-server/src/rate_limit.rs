//! The per-client rate limit: one token bucket per client address (governor's GCRA). A request that
//! finds its bucket empty is answered 503 with `Retry-After`, which Entity Service clients honour by
//! retrying; other clients are not affected.
//!
//! The client is the TCP peer from `ConnectInfo`: behind a reverse proxy every client shares the
//! proxy's address and bucket. Buckets live in memory only and are forgotten once they have refilled.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use governor::clock::{Clock, DefaultClock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::limits::{LimitError, Limits};

/// Probes and scrapes come from the platform, often many through one address, and must never be
/// throttled.
pub(crate) const EXEMPT_PATHS: &[&str] = &["/healthz", "/readyz", "/metrics"];

/// How often buckets that have refilled are forgotten; between sweeps, state grows only with the
/// number of distinct clients seen.
const SWEEP_INTERVAL: Duration = Duration::from_secs(10);

/// Token buckets keyed by client address, with what the refusal message names.
pub(crate) struct ClientRateLimiter<C: Clock = DefaultClock> {
    buckets: RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, C, NoOpMiddleware<C::Instant>>,
    per_second: u32,
    burst: u32,
    last_sweep: Mutex<C::Instant>,
    warned_without_peer_address: AtomicBool,
}

impl ClientRateLimiter {
    /// The limiter for `limits` on the real clock, or `None` when the rate limit is off.
    pub(crate) fn new(limits: &Limits) -> Option<Self> {
        Self::with_clock(limits, DefaultClock::default())
    }
}

impl<C: Clock> ClientRateLimiter<C> {
    /// The limiter for `limits` on `clock`, or `None` when the rate limit is off.
    pub(crate) fn with_clock(limits: &Limits, clock: C) -> Option<Self> {
        let per_second = NonZeroU32::new(limits.rate_limit_per_second)?;
        let burst = NonZeroU32::new(limits.rate_limit_burst).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_second(per_second).allow_burst(burst);
        let now = clock.now();
        Some(Self {
            buckets: RateLimiter::dashmap_with_clock(quota, clock),
            per_second: per_second.get(),
            burst: burst.get(),
            last_sweep: Mutex::new(now),
            warned_without_peer_address: AtomicBool::new(false),
        })
    }

    /// Takes one request from the bucket of `client`, or says how long until it holds one again.
    pub(crate) fn check(&self, client: IpAddr) -> Result<(), LimitError> {
        let Err(not_until) = self.buckets.check_key(&bucket_key(client)) else {
            return Ok(());
        };
        let wait = not_until.wait_time_from(self.buckets.clock().now());
        Err(LimitError::TooManyRequests {
            per_second: self.per_second,
            burst: self.burst,
            retry_after_seconds: whole_seconds_at_least_one(wait),
        })
    }

    /// Whether a sweep is due, claiming it when it is so that one caller sweeps.
    fn claim_sweep(&self) -> bool {
        let now = self.buckets.clock().now();
        // Nothing panics while the lock is held, so it is never poisoned.
        let Ok(mut last_sweep) = self.last_sweep.try_lock() else {
            return false;
        };
        if Duration::from(now.duration_since(*last_sweep)) < SWEEP_INTERVAL {
            return false;
        }
        *last_sweep = now;
        true
    }

    /// Forgets every client whose bucket is full: its state equals a new client's.
    fn sweep(&self) {
        self.buckets.retain_recent();
        self.buckets.shrink_to_fit();
    }

    /// How many clients have a bucket.
    #[cfg(test)]
    fn tracked_clients(&self) -> usize {
        self.buckets.len()
    }
}

/// Wraps every route of `router` in `limiter`.
pub(crate) fn apply<S>(router: Router<S>, limiter: ClientRateLimiter) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router.layer(axum::middleware::from_fn_with_state(
        Arc::new(limiter),
        throttle::<DefaultClock>,
    ))
}

/// Refuses the request when its client's bucket is empty; exempt paths and requests without a peer
/// address always pass.
async fn throttle<C>(
    State(limiter): State<Arc<ClientRateLimiter<C>>>,
    request: Request,
    next: Next,
) -> Response
where
    C: Clock + Send + Sync + 'static,
{
    if EXEMPT_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let Some(ConnectInfo(peer)) = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .copied()
    else {
        if !limiter
            .warned_without_peer_address
            .swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                "requests carry no peer address (served without connect info); the rate limit is off"
            );
        }
        return next.run(request).await;
    };
    if limiter.claim_sweep() {
        let limiter = Arc::clone(&limiter);
        tokio::task::spawn_blocking(move || limiter.sweep());
    }
    if let Err(refusal) = limiter.check(peer.ip()) {
        tracing::debug!(client = %peer.ip(), "request refused by the rate limit");
        return refusal.into_response();
    }
    next.run(request).await
}

/// The bucket a client address counts against: an IPv4 address, or the /64 network of an IPv6
/// address, since one IPv6 host usually holds a whole /64 and could otherwise take 2^64 buckets.
fn bucket_key(client: IpAddr) -> IpAddr {
    match client.to_canonical() {
        IpAddr::V6(address) => IpAddr::V6(Ipv6Addr::from(u128::from(address) & (u128::MAX << 64))),
        ipv4 => ipv4,
    }
}

/// `wait` rounded up to whole seconds, as `Retry-After` counts, and never 0, which would invite an
/// immediate retry.
fn whole_seconds_at_least_one(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{header, StatusCode};
    use axum::routing::get;
    use governor::clock::FakeRelativeClock;
    use tower::ServiceExt;

    use super::*;

    const ALICE: &str = "192.0.2.1:4000";
    const BOB: &str = "192.0.2.2:4000";
    const JOBS: &str = "/api/jobs";

    fn limits(per_second: u32, burst: u32) -> Limits {
        Limits {
            rate_limit_per_second: per_second,
            rate_limit_burst: burst,
            ..Limits::default()
        }
    }

    fn limiter(
        per_second: u32,
        burst: u32,
    ) -> (Arc<ClientRateLimiter<FakeRelativeClock>>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        let limiter = ClientRateLimiter::with_clock(&limits(per_second, burst), clock.clone())
            .expect("the rate limit is on");
        (Arc::new(limiter), clock)
    }

    fn router(limiter: &Arc<ClientRateLimiter<FakeRelativeClock>>) -> Router {
        let ok = || get(|| async { "ok" });
        Router::new()
            .route(JOBS, ok())
            .route("/healthz", ok())
            .route("/readyz", ok())
            .route("/metrics", ok())
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(limiter),
                throttle::<FakeRelativeClock>,
            ))
    }

    async fn get_as(
        limiter: &Arc<ClientRateLimiter<FakeRelativeClock>>,
        client: &str,
        path: &str,
    ) -> Response {
        let peer: SocketAddr = client.parse().expect("a socket address");
        let mut request = Request::get(path)
            .body(Body::empty())
            .expect("valid request");
        request.extensions_mut().insert(ConnectInfo(peer));
        router(limiter)
            .oneshot(request)
            .await
            .expect("the router is infallible")
    }

    async fn status_as(
        limiter: &Arc<ClientRateLimiter<FakeRelativeClock>>,
        client: &str,
        path: &str,
    ) -> StatusCode {
        get_as(limiter, client, path).await.status()
    }

    #[test]
    fn off_when_the_rate_is_zero() {
        assert!(ClientRateLimiter::new(&limits(0, 10)).is_none());
        assert!(ClientRateLimiter::new(&limits(1, 0)).is_some());
    }

    #[tokio::test]
    async fn a_client_over_its_burst_gets_503_with_retry_after() {
        let (limiter, _clock) = limiter(1, 3);
        for _ in 0..3 {
            assert_eq!(status_as(&limiter, ALICE, JOBS).await, StatusCode::OK);
        }
        let refused = get_as(&limiter, ALICE, JOBS).await;
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.headers()[header::RETRY_AFTER], "1");
        assert_eq!(
            refused.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let body = axum::body::to_bytes(refused.into_body(), usize::MAX)
            .await
            .expect("response body");
        let problem: serde_json::Value = serde_json::from_slice(&body).expect("JSON body");
        assert_eq!(problem["status"], 503);
        let detail = problem["detail"].as_str().expect("a detail");
        assert!(detail.contains("1 per second with bursts of 3"), "{detail}");
        assert!(detail.contains("server.rate_limit_per_second"), "{detail}");
    }

    #[tokio::test]
    async fn other_clients_and_exempt_paths_are_served() {
        let (limiter, _clock) = limiter(1, 1);
        assert_eq!(status_as(&limiter, ALICE, JOBS).await, StatusCode::OK);
        assert_eq!(
            status_as(&limiter, ALICE, JOBS).await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(status_as(&limiter, BOB, JOBS).await, StatusCode::OK);
        for path in EXEMPT_PATHS {
            for _ in 0..5 {
                assert_eq!(status_as(&limiter, ALICE, path).await, StatusCode::OK);
            }
        }
    }

    #[tokio::test]
    async fn the_bucket_refills_at_the_rate() {
        let (limiter, clock) = limiter(2, 2);
        for _ in 0..2 {
            assert_eq!(status_as(&limiter, ALICE, JOBS).await, StatusCode::OK);
        }
        assert_eq!(
            status_as(&limiter, ALICE, JOBS).await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        clock.advance(Duration::from_millis(499));
        assert_eq!(
            status_as(&limiter, ALICE, JOBS).await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        clock.advance(Duration::from_millis(1));
        assert_eq!(status_as(&limiter, ALICE, JOBS).await, StatusCode::OK);
    }

    #[tokio::test]
    async fn requests_without_a_peer_address_pass() {
        let (limiter, _clock) = limiter(1, 1);
        for _ in 0..3 {
            let request = Request::get(JOBS)
                .body(Body::empty())
                .expect("valid request");
            let response = router(&limiter).oneshot(request).await.expect("infallible");
            assert_eq!(response.status(), StatusCode::OK);
        }
    }

    #[test]
    fn refilled_buckets_are_swept() {
        let (limiter, clock) = limiter(10, 5);
        for client in ["192.0.2.1", "192.0.2.2", "2001:db8::1"] {
            limiter
                .check(client.parse().expect("an address"))
                .expect("under the limit");
        }
        assert_eq!(limiter.tracked_clients(), 3);
        assert!(!limiter.claim_sweep(), "no sweep before the interval");
        clock.advance(SWEEP_INTERVAL);
        limiter
            .check("192.0.2.1".parse().expect("an address"))
            .expect("refilled");
        assert!(limiter.claim_sweep());
        assert!(!limiter.claim_sweep(), "one sweep per interval");
        limiter.sweep();
        assert_eq!(
            limiter.tracked_clients(),
            1,
            "only the client just seen is kept"
        );
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64() {
        let key = |text: &str| bucket_key(text.parse().expect("an address"));
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb::2"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.1"), key("192.0.2.1"));
        assert_eq!(key("192.0.2.1").to_string(), "192.0.2.1");
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(whole_seconds_at_least_one(Duration::ZERO), 1);
        assert_eq!(whole_seconds_at_least_one(Duration::from_millis(200)), 1);
        assert_eq!(whole_seconds_at_least_one(Duration::from_secs(2)), 2);
        assert_eq!(whole_seconds_at_least_one(Duration::from_millis(2001)), 3);
    }
}
