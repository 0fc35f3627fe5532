//! Leases: which replica reconciles which target when several run (`lease.table`), and the
//! gate that stops a replica writing to a target once its lease may have ended.
//!
//! Every replica heartbeats in the lease table and takes free target leases up to a fair share
//! (targets ÷ live replicas, rounded up), renews the ones it holds every `renew_every`, and gives
//! up those over its share so a new replica gets work. A lease lasts `ttl` by the claimer's
//! clock; the claimer itself counts it from *before* its claim was sent and stops `margin`
//! earlier ([`Validity`]), so a slow answer, a paused process or a small clock difference ends
//! its writes before another replica can take the lease. [`LeasedEcs`] checks that validity
//! before every mutating call.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_core::live::{LiveService, LiveTaskDefinition, ServiceLookup};
use berth_core::manifest::ServiceId;
use berth_core::model::ecs::{ServiceSpec, TaskDefinitionSpec};
use tokio::sync::{RwLock, mpsc, watch};
use tokio::time::Instant;
use tracing::{info, warn};

use crate::daemon::{DaemonState, LeaseState, Trigger};

use crate::ports::{
    EcsRead, EcsWrite, LeaseKind, LeaseRecord, LeaseStore, ServiceUpdate, lease_key,
};

/// How a replica takes part in leasing (docs/operations.md, "Running several replicas").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseOptions {
    /// This replica's id in the table (unique per process).
    pub replica: String,
    /// How long a lease (and a heartbeat) lasts after a claim.
    pub ttl: Duration,
    /// How often leases are renewed and free ones looked for.
    pub renew_every: Duration,
    /// How long before its lease ends a replica stops writing.
    pub margin: Duration,
}

/// Until when this replica may write to one target; `None` while it holds no lease there.
/// Shared by the lease keeper, which sets it, and [`LeasedEcs`], which checks it.
#[derive(Debug, Clone, Default)]
pub struct Validity {
    until: Arc<Mutex<Option<Instant>>>,
    /// No leasing at all (one replica owns every target): always valid.
    always: bool,
}

impl Validity {
    /// Valid at all times: for a daemon without `lease.table`.
    pub fn always() -> Self {
        Validity {
            always: true,
            ..Validity::default()
        }
    }

    /// Whether a write may start at `now`.
    pub fn valid_at(&self, now: Instant) -> bool {
        self.always || self.get().is_some_and(|until| now < until)
    }

    /// The end of the current lease, if one is held.
    pub fn get(&self) -> Option<Instant> {
        *self.until.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the end of the lease (the keeper does, after each claim).
    pub fn set(&self, until: Option<Instant>) {
        *self.until.lock().unwrap_or_else(PoisonError::into_inner) = until;
    }
}

/// What one round of the lease keeper does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseRound {
    /// Leases this replica holds and renews.
    pub renew: Vec<String>,
    /// Free or expired leases it takes.
    pub take: Vec<String>,
    /// Leases over its fair share that it gives up.
    pub release: Vec<String>,
    /// Who holds each target's lease now (`None`: nobody), before this round's claims.
    pub holders: BTreeMap<String, Option<String>>,
}

/// Decides a round from the table's records at `now_ms`: pure, so every rule has a unit test.
pub fn plan_round(
    records: &[LeaseRecord],
    targets: &[String],
    me: &str,
    now_ms: u64,
) -> LeaseRound {
    let live = |record: &&LeaseRecord| record.expires_ms >= now_ms;
    let replicas: BTreeSet<&str> = (records.iter().filter(live))
        .filter(|record| record.key == lease_key(LeaseKind::Replica, &record.holder))
        .map(|record| record.holder.as_str())
        .chain([me])
        .collect();
    let share = targets.len().div_ceil(replicas.len().max(1));
    let holders: BTreeMap<String, Option<String>> = targets
        .iter()
        .map(|target| {
            let key = lease_key(LeaseKind::Target, target);
            let holder = (records.iter().filter(live))
                .find(|record| record.key == key)
                .map(|record| record.holder.clone());
            (target.clone(), holder)
        })
        .collect();
    let mine: Vec<String> = (holders.iter())
        .filter(|(_, holder)| holder.as_deref() == Some(me))
        .map(|(target, _)| target.clone())
        .collect();
    let mut free: Vec<&String> = (holders.iter())
        .filter(|(_, holder)| holder.is_none())
        .map(|(target, _)| target)
        .collect();
    // Replicas look at free targets in different orders, so they rarely race for one.
    free.sort_by_key(|target| fnv(&format!("{me}/{target}")));
    let wanted = share.saturating_sub(mine.len());
    LeaseRound {
        renew: mine.iter().take(share).cloned().collect(),
        take: free.into_iter().take(wanted).cloned().collect(),
        release: mine.iter().skip(share).cloned().collect(),
        holders,
    }
}

/// FNV-1a: a stable spread of free targets per replica.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Milliseconds since the Unix epoch by this machine's clock: what the table's expiries are in.
pub fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// Keeps this replica's leases: one [`LeaseKeeper::round`] every `renew_every`.
pub struct LeaseKeeper<L> {
    store: L,
    options: LeaseOptions,
    /// Each target's validity, by target name.
    validity: BTreeMap<String, Validity>,
}

/// What [`LeaseKeeper::round`] reports: who holds each target, and whether the table answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundReport {
    /// The holder of each target's lease after the round (`None`: nobody).
    pub holders: BTreeMap<String, Option<String>>,
    /// Why the table could not be read, if it could not (leases then run out on their own).
    pub error: Option<String>,
}

impl<L: LeaseStore> LeaseKeeper<L> {
    /// A keeper for `targets`, holding none yet.
    pub fn new(store: L, options: LeaseOptions, targets: &[String]) -> Self {
        let validity = (targets.iter())
            .map(|target| (target.clone(), Validity::default()))
            .collect();
        LeaseKeeper {
            store,
            options,
            validity,
        }
    }

    /// The validity of `target`'s lease, for its [`LeasedEcs`] and its reconcile schedule.
    pub fn validity(&self, target: &str) -> Validity {
        self.validity.get(target).cloned().unwrap_or_default()
    }

    /// How long a claim lasts, in the table's unit.
    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.options.ttl.as_millis()).unwrap_or(u64::MAX)
    }

    /// This replica's id.
    pub fn replica(&self) -> &str {
        &self.options.replica
    }

    /// One round: heartbeat, read the table, renew, take, give up. A claim another replica won
    /// ends that target's validity at once; a claim that fails leaves it to run out.
    pub async fn round(&self) -> RoundReport {
        let me = self.options.replica.clone();
        let heartbeat = lease_key(LeaseKind::Replica, &me);
        let now_ms = epoch_ms();
        let ttl_ms = self.ttl_ms();
        let _ = (self.store)
            .claim(&heartbeat, &me, now_ms, now_ms.saturating_add(ttl_ms))
            .await;
        let records = match self.store.scan().await {
            Ok(records) => records,
            Err(err) => {
                return RoundReport {
                    holders: BTreeMap::new(),
                    error: Some(format!("lease table unreadable: {err}")),
                };
            }
        };
        let targets: Vec<String> = self.validity.keys().cloned().collect();
        let round = plan_round(&records, &targets, &me, epoch_ms());
        let mut holders = round.holders.clone();
        for target in &round.release {
            self.validity(target).set(None);
            let _ = (self.store)
                .release(&lease_key(LeaseKind::Target, target), &me)
                .await;
            holders.insert(target.clone(), None);
        }
        for target in round.renew.iter().chain(&round.take) {
            let holder = self.claim(target).await;
            if let Some(holder) = holder {
                holders.insert(target.clone(), holder);
            }
        }
        RoundReport {
            holders,
            error: None,
        }
    }

    /// Claims `target` and sets its validity from the moment before the claim was sent.
    /// `Some(holder)` when the outcome is known (`Some(None)`: lost to nobody known).
    async fn claim(&self, target: &str) -> Option<Option<String>> {
        let me = &self.options.replica;
        let started = Instant::now();
        let now_ms = epoch_ms();
        let ttl_ms = self.ttl_ms();
        let key = lease_key(LeaseKind::Target, target);
        let validity = self.validity(target);
        match self
            .store
            .claim(&key, me, now_ms, now_ms.saturating_add(ttl_ms))
            .await
        {
            Ok(Some(_)) => {
                let writable = self.options.ttl.saturating_sub(self.options.margin);
                validity.set(Some(started + writable));
                Some(Some(me.clone()))
            }
            Ok(None) => {
                validity.set(None);
                None
            }
            // Unknown: what is held stays valid until it runs out.
            Err(_) => None,
        }
    }

    /// Gives up every lease and the heartbeat (at shutdown): the other replicas take the
    /// targets at their next round instead of after `ttl`.
    pub async fn release_all(&self) {
        let me = &self.options.replica;
        for (target, validity) in &self.validity {
            if validity.get().is_some() {
                validity.set(None);
                let _ = (self.store)
                    .release(&lease_key(LeaseKind::Target, target), me)
                    .await;
            }
        }
        let _ = (self.store)
            .release(&lease_key(LeaseKind::Replica, me), me)
            .await;
    }
}

/// A target's name and the state its `/status` shows.
pub type TargetState = (String, Arc<RwLock<DaemonState>>);

/// Runs `keeper` until `shutdown`: a round every `renew_every`, each target's `/status` told
/// who holds its lease, and [`Trigger::Lease`] sent when this replica took one. Leases stay
/// held at return (the reconcile in progress may still write); call
/// [`LeaseKeeper::release_all`] once the daemon has stopped.
pub async fn keep<L: LeaseStore>(
    keeper: &LeaseKeeper<L>,
    states: &[TargetState],
    triggers: mpsc::Sender<Trigger>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Rounds start every `renew_every` whatever a round takes, so a free lease is seen within
    // one period of its end.
    let mut rounds = tokio::time::interval(keeper.options.renew_every);
    rounds.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = rounds.tick() => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return;
        }
        let now = Instant::now();
        let held = |keeper: &LeaseKeeper<L>, at| {
            (states.iter())
                .filter(|(target, _)| keeper.validity(target).valid_at(at))
                .map(|(target, _)| target.clone())
                .collect::<BTreeSet<String>>()
        };
        let before = held(keeper, now);
        let report = keeper.round().await;
        if let Some(error) = &report.error {
            warn!(%error, "lease round failed; leases held run out unless renewed");
        }
        for (target, state) in states {
            let holder = report.holders.get(target).cloned().flatten();
            let mine = keeper.validity(target).valid_at(Instant::now());
            state.write().await.lease = Some(LeaseState { holder, mine });
        }
        let taken: Vec<String> = held(keeper, Instant::now())
            .difference(&before)
            .cloned()
            .collect();
        if !taken.is_empty() {
            info!(targets = ?taken, replica = keeper.replica(), "took target leases");
            // A full channel already holds a wake-up.
            let _ = triggers.try_send(Trigger::Lease);
        }
    }
}

/// An ECS adapter that makes a mutating call only while its target's lease is valid; reads
/// pass through.
#[derive(Debug, Clone)]
pub struct LeasedEcs<E> {
    inner: E,
    target: String,
    validity: Validity,
}

impl<E> LeasedEcs<E> {
    /// `inner`, writing to `target` only while `validity` says so.
    pub fn new(inner: E, target: impl Into<String>, validity: Validity) -> Self {
        LeasedEcs {
            inner,
            target: target.into(),
            validity,
        }
    }

    /// The adapter underneath.
    pub fn inner(&self) -> &E {
        &self.inner
    }

    fn check<T>(&self) -> Result<(), Gated<T>> {
        if self.validity.valid_at(Instant::now()) {
            Ok(())
        } else {
            Err(Gated::LeaseEnded {
                target: self.target.clone(),
            })
        }
    }
}

/// An error of [`LeasedEcs`]: the adapter's own, or a write refused.
#[derive(Debug, thiserror::Error)]
pub enum Gated<E> {
    /// The adapter's error.
    #[error(transparent)]
    Inner(E),
    /// The lease on the target ended (or is about to): another replica may hold it now.
    #[error(
        "not written: this replica's lease on target `{target}` has ended or is about to; the replica that holds it now makes this change"
    )]
    LeaseEnded {
        /// The target.
        target: String,
    },
}

impl<E: EcsRead> EcsRead for LeasedEcs<E> {
    type Error = Gated<E::Error>;

    async fn describe_services(
        &self,
        cluster: &str,
        names: &[String],
    ) -> Result<Vec<ServiceLookup>, Self::Error> {
        (self.inner.describe_services(cluster, names).await).map_err(Gated::Inner)
    }

    async fn describe_task_definition(
        &self,
        arn: &str,
    ) -> Result<Arc<LiveTaskDefinition>, Self::Error> {
        (self.inner.describe_task_definition(arn).await).map_err(Gated::Inner)
    }

    async fn latest_active_task_definition_arn(
        &self,
        family: &str,
    ) -> Result<Option<String>, Self::Error> {
        (self.inner.latest_active_task_definition_arn(family).await).map_err(Gated::Inner)
    }

    async fn list_services(&self, cluster: &str) -> Result<Vec<String>, Self::Error> {
        (self.inner.list_services(cluster).await).map_err(Gated::Inner)
    }

    async fn list_active_task_definitions(&self, family: &str) -> Result<Vec<String>, Self::Error> {
        (self.inner.list_active_task_definitions(family).await).map_err(Gated::Inner)
    }

    fn retain_task_definitions(&self, keep: &BTreeSet<String>) -> impl Future<Output = ()> + Send {
        self.inner.retain_task_definitions(keep)
    }
}

impl<E: EcsWrite> EcsWrite for LeasedEcs<E> {
    async fn register_task_definition(
        &self,
        spec: &TaskDefinitionSpec,
    ) -> Result<Arc<LiveTaskDefinition>, Self::Error> {
        self.check()?;
        (self.inner.register_task_definition(spec).await).map_err(Gated::Inner)
    }

    async fn create_service(
        &self,
        id: &ServiceId,
        spec: &ServiceSpec,
        task_definition_arn: &str,
    ) -> Result<LiveService, Self::Error> {
        self.check()?;
        (self
            .inner
            .create_service(id, spec, task_definition_arn)
            .await)
            .map_err(Gated::Inner)
    }

    async fn update_service(
        &self,
        id: &ServiceId,
        update: &ServiceUpdate,
    ) -> Result<LiveService, Self::Error> {
        self.check()?;
        (self.inner.update_service(id, update).await).map_err(Gated::Inner)
    }

    async fn delete_service(&self, id: &ServiceId) -> Result<(), Self::Error> {
        self.check()?;
        (self.inner.delete_service(id).await).map_err(Gated::Inner)
    }

    async fn tag_resource(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), Self::Error> {
        self.check()?;
        (self.inner.tag_resource(arn, tags).await).map_err(Gated::Inner)
    }

    async fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<(), Self::Error> {
        self.check()?;
        (self.inner.untag_resource(arn, keys).await).map_err(Gated::Inner)
    }

    async fn deregister_task_definition(&self, arn: &str) -> Result<(), Self::Error> {
        self.check()?;
        (self.inner.deregister_task_definition(arn).await).map_err(Gated::Inner)
    }
}

#[cfg(test)]
mod tests;
