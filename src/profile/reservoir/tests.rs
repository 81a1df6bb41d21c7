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
