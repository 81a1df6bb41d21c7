use super::*;

#[test]
fn keeps_everything_below_capacity_in_order() {
    let mut r = Reservoir::new(10, 7);
    for v in 0..10 {
        r.push(v);
    }
    assert!(r.is_complete());
    assert_eq!(r.values(), (0..10).collect::<Vec<_>>().as_slice());
}

#[test]
fn samples_uniformly_beyond_capacity() {
    // Each of 100 values should land in a 10-slot reservoir with probability 0.1: over
    // 2,000 seeded runs the count per value is Binomial(2000, 0.1) (mean 200, sd 13.4).
    let mut hits = [0u32; 100];
    for seed in 0..2000 {
        let mut r = Reservoir::new(10, seed);
        for v in 0..100usize {
            r.push(v);
        }
        assert!(!r.is_complete());
        for &v in r.values() {
            hits[v] += 1;
        }
    }
    for (v, &h) in hits.iter().enumerate() {
        assert!((140..=260).contains(&h), "value {v} sampled {h} times");
    }
}

#[test]
fn the_same_seed_gives_the_same_sample() {
    let run = |seed| {
        let mut r = Reservoir::new(5, seed);
        (0..1000).for_each(|v| r.push(v));
        r.into_values()
    };
    assert_eq!(run(42), run(42));
    assert_ne!(run(42), run(43));
}

#[test]
fn merged_reservoirs_sample_the_whole_stream_uniformly() {
    // Stream 0..100 split into 0..30 and 30..100, 10 slots each side: after merging, each
    // value should be held with probability 0.1 (Binomial(2000, 0.1) per value).
    let mut hits = [0u32; 100];
    for seed in 0..2000u64 {
        let mut a = Reservoir::new(10, seed);
        let mut b = Reservoir::new(10, seed + 1_000_000);
        (0..30usize).for_each(|v| a.push(v));
        (30..100usize).for_each(|v| b.push(v));
        let merged = a.merge(b);
        assert_eq!(merged.values().len(), 10);
        assert_eq!(merged.seen(), 100);
        for &v in merged.values() {
            hits[v] += 1;
        }
    }
    for (v, &h) in hits.iter().enumerate() {
        assert!((140..=260).contains(&h), "value {v} sampled {h} times");
    }
}

#[test]
fn complete_reservoirs_merge_by_concatenation() {
    let mut a = Reservoir::new(10, 1);
    let mut b = Reservoir::new(10, 2);
    (0..4).for_each(|v| a.push(v));
    (4..9).for_each(|v| b.push(v));
    let merged = a.merge(b);
    assert!(merged.is_complete());
    assert_eq!(merged.values(), (0..9).collect::<Vec<_>>().as_slice());
}
