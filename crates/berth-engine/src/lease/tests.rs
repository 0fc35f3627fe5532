use super::*;

fn record(key: &str, holder: &str, expires_ms: u64) -> LeaseRecord {
    LeaseRecord {
        key: key.to_owned(),
        holder: holder.to_owned(),
        expires_ms,
        version: 1,
    }
}

fn targets(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

const NOW: u64 = 1_000_000;

#[test]
fn a_lone_replica_takes_every_free_target() {
    let round = plan_round(&[], &targets(&["a", "b", "c"]), "r1", NOW);
    let mut taken = round.take.clone();
    taken.sort();
    assert_eq!(taken, ["a", "b", "c"]);
    assert!(round.renew.is_empty() && round.release.is_empty());
}

#[test]
fn live_replicas_split_the_targets_and_expired_leases_and_heartbeats_do_not_count() {
    let records = [
        record("replica#r2", "r2", NOW + 5_000),
        record("replica#r3", "r3", NOW - 1),
        record("target#a", "r2", NOW + 5_000),
        record("target#b", "r3", NOW - 1),
    ];
    let round = plan_round(&records, &targets(&["a", "b", "c", "d"]), "r1", NOW);
    // r1 and r2 are alive: a share of 2; `a` is r2's, the other three are free.
    assert_eq!(round.take.len(), 2);
    assert!(!round.take.contains(&"a".to_owned()));
    assert_eq!(round.holders["a"].as_deref(), Some("r2"));
    assert_eq!(round.holders["b"], None, "an expired lease is free");
}

#[test]
fn a_replica_over_its_share_renews_its_share_and_gives_the_rest_up() {
    let records = [
        record("replica#r2", "r2", NOW + 5_000),
        record("target#a", "r1", NOW + 5_000),
        record("target#b", "r1", NOW + 5_000),
        record("target#c", "r1", NOW + 5_000),
    ];
    let round = plan_round(&records, &targets(&["a", "b", "c"]), "r1", NOW);
    assert_eq!(round.renew, ["a", "b"]);
    assert_eq!(round.release, ["c"]);
    assert!(round.take.is_empty());
}

#[test]
fn held_leases_are_renewed_and_nothing_else_is_taken_at_a_full_share() {
    let records = [
        record("replica#r2", "r2", NOW + 5_000),
        record("target#a", "r1", NOW + 5_000),
        record("target#b", "r2", NOW + 5_000),
    ];
    let round = plan_round(&records, &targets(&["a", "b"]), "r1", NOW);
    assert_eq!(round.renew, ["a"]);
    assert!(round.take.is_empty() && round.release.is_empty());
}

/// A lease table in memory with the conditional semantics of the DynamoDB one.
#[derive(Default)]
struct MemoryStore(Mutex<BTreeMap<String, LeaseRecord>>);

impl LeaseStore for MemoryStore {
    type Error = std::io::Error;

    async fn scan(&self) -> Result<Vec<LeaseRecord>, Self::Error> {
        Ok(self.0.lock().expect("lock").values().cloned().collect())
    }

    async fn claim(
        &self,
        key: &str,
        holder: &str,
        now_ms: u64,
        expires_ms: u64,
    ) -> Result<Option<LeaseRecord>, Self::Error> {
        let mut table = self.0.lock().expect("lock");
        let version = match table.get(key) {
            Some(r) if r.holder == holder => r.version,
            Some(r) if r.expires_ms >= now_ms => return Ok(None),
            Some(r) => r.version + 1,
            None => 1,
        };
        let record = LeaseRecord {
            key: key.to_owned(),
            holder: holder.to_owned(),
            expires_ms,
            version,
        };
        table.insert(key.to_owned(), record.clone());
        Ok(Some(record))
    }

    async fn release(&self, key: &str, holder: &str) -> Result<(), Self::Error> {
        if let Some(r) = self.0.lock().expect("lock").get_mut(key)
            && r.holder == holder
        {
            r.expires_ms = 0;
        }
        Ok(())
    }
}

fn options(replica: &str) -> LeaseOptions {
    LeaseOptions {
        replica: replica.to_owned(),
        ttl: Duration::from_secs(30),
        renew_every: Duration::from_secs(10),
        margin: Duration::from_secs(5),
    }
}

#[tokio::test(start_paused = true)]
async fn two_keepers_share_the_targets_and_each_target_has_one_holder() {
    let store = Arc::new(MemoryStore::default());
    let names = targets(&["a", "b", "c", "d"]);
    let one = LeaseKeeper::new(Arc::clone(&store), options("r1"), &names);
    let two = LeaseKeeper::new(Arc::clone(&store), options("r2"), &names);
    one.round().await; // alone: takes all four
    two.round().await; // sees r1: a share of two, all taken
    let report = one.round().await; // gives two up
    two.round().await; // takes them
    let valid = |keeper: &LeaseKeeper<Arc<MemoryStore>>| {
        (names.iter())
            .filter(|t| keeper.validity(t).valid_at(Instant::now()))
            .count()
    };
    assert_eq!((valid(&one), valid(&two)), (2, 2), "{report:?}");
    for target in &names {
        let both = one.validity(target).valid_at(Instant::now())
            && two.validity(target).valid_at(Instant::now());
        assert!(!both, "{target} is held by both");
    }
}

#[tokio::test(start_paused = true)]
async fn validity_ends_margin_before_the_lease_and_release_all_frees_every_target() {
    let store = Arc::new(MemoryStore::default());
    let names = targets(&["a"]);
    let keeper = LeaseKeeper::new(Arc::clone(&store), options("r1"), &names);
    keeper.round().await;
    let validity = keeper.validity("a");
    assert!(validity.valid_at(Instant::now()));
    assert!(validity.valid_at(Instant::now() + Duration::from_secs(24)));
    assert!(!validity.valid_at(Instant::now() + Duration::from_secs(25)));
    keeper.release_all().await;
    assert!(!validity.valid_at(Instant::now()));
    let other = LeaseKeeper::new(Arc::clone(&store), options("r2"), &names);
    other.round().await;
    assert!(
        other.validity("a").valid_at(Instant::now()),
        "taken at once after release"
    );
}
