//! The lease gate over a real adapter (the in-memory fake): a replica whose lease ended writes
//! nothing, reads still work.

use std::time::Duration;

use berth_core::manifest::ServiceId;
use berth_engine::lease::{Gated, LeasedEcs, Validity};
use berth_engine::ports::{EcsRead, EcsWrite, ServiceUpdate};
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn the_gate_refuses_every_write_once_the_lease_ended_and_lets_reads_through() {
    let ecs = berth_testkit::fake::FakeEcs::new();
    let validity = Validity::default();
    let gated = LeasedEcs::new(ecs.clone(), "prod", validity.clone());
    let id = ServiceId::new("prod", "web");
    let update = ServiceUpdate::default();
    let refused = gated.update_service(&id, &update).await;
    assert!(
        matches!(refused, Err(Gated::LeaseEnded { .. })),
        "{refused:?}"
    );
    assert!(
        gated
            .describe_services("prod", &["web".to_owned()])
            .await
            .is_ok()
    );
    assert!(ecs.mutations().is_empty(), "nothing reached ECS");
    validity.set(Some(Instant::now() + Duration::from_secs(1)));
    tokio::time::advance(Duration::from_secs(2)).await;
    let late = gated.delete_service(&id).await;
    assert!(matches!(late, Err(Gated::LeaseEnded { .. })), "{late:?}");
    assert!(ecs.mutations().is_empty());
}
