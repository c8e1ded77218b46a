//! Sharding: several `serve` replicas (a StatefulSet) split the targets between them without
//! talking to each other. Rendezvous (highest random weight) hashing gives each target to the
//! shard with the highest weight for the pair, so every replica computes the same split, and
//! adding or removing a shard moves only the targets of that shard.

use ring::digest::{SHA256, digest};

/// One replica's place among the shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This replica's index, from 0.
    pub index: usize,
    /// How many replicas there are.
    pub count: usize,
}

impl Shard {
    /// A shard; `None` when the index is not below the count.
    pub fn new(index: usize, count: usize) -> Option<Shard> {
        (count >= 1 && index < count).then_some(Shard { index, count })
    }

    /// The index a pod's name ends with (`gitdrift-2` → 2), as a StatefulSet names its pods.
    pub fn index_from_name(name: &str) -> Option<usize> {
        name.rsplit_once('-')?.1.parse().ok()
    }

    /// Whether this shard scans `target`.
    pub fn owns(&self, target: &str) -> bool {
        owner(target, self.count) == self.index
    }
}

/// The shard among `count` that scans `target`.
pub fn owner(target: &str, count: usize) -> usize {
    (0..count.max(1))
        .max_by_key(|shard| weight(target, *shard))
        .unwrap_or(0)
}

fn weight(target: &str, shard: usize) -> u64 {
    let hash = digest(&SHA256, format!("{shard}\0{target}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&hash.as_ref()[..8]);
    u64::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_has_exactly_one_owner_and_the_split_is_even() {
        let targets: Vec<String> = (0..3000).map(|i| format!("cluster-{i}")).collect();
        let shards: Vec<Shard> = (0..3).map(|i| Shard::new(i, 3).unwrap()).collect();
        let mut counts = [0usize; 3];
        for t in &targets {
            let owners: Vec<usize> = shards
                .iter()
                .filter(|s| s.owns(t))
                .map(|s| s.index)
                .collect();
            assert_eq!(owners.len(), 1, "{t}");
            counts[owners[0]] += 1;
        }
        for c in counts {
            assert!((850..=1150).contains(&c), "uneven split: {counts:?}");
        }
    }

    #[test]
    fn a_new_shard_takes_targets_only_from_the_others_never_moves_the_rest() {
        let targets: Vec<String> = (0..2000).map(|i| format!("t{i}")).collect();
        let mut moved = 0;
        for t in &targets {
            let (before, after) = (owner(t, 4), owner(t, 5));
            if before != after {
                assert_eq!(after, 4, "{t} moved between old shards");
                moved += 1;
            }
        }
        assert!((300..=500).contains(&moved), "about a fifth moves: {moved}");
    }

    #[test]
    fn pod_names_give_the_index() {
        assert_eq!(Shard::index_from_name("gitdrift-2"), Some(2));
        assert_eq!(Shard::index_from_name("my-release-gitdrift-10"), Some(10));
        assert_eq!(Shard::index_from_name("gitdrift"), None);
        assert_eq!(Shard::new(3, 3), None);
        assert_eq!(owner("anything", 1), 0);
    }
}
