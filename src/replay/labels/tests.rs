//! `--flip-labels` specs, the class a flipped label becomes, and the segment test.

use super::*;

fn targets(classes: &[&str]) -> Targets {
    Targets {
        column: "Status".into(),
        values: Vec::new(),
        classes: classes.iter().map(|c| Value::from(*c)).collect(),
    }
}

#[test]
fn specs_parse_or_say_how_to_write_them() {
    assert_eq!(
        Flip::parse("Home=rent").unwrap(),
        Flip {
            segment: Some(("Home".into(), "rent".into())),
            share: 1.0
        }
    );
    assert_eq!(Flip::parse("Home=rent:0.5").unwrap().share, 0.5);
    assert_eq!(
        Flip::parse("0.1").unwrap(),
        Flip {
            segment: None,
            share: 0.1
        }
    );
    for bad in ["1.5", "Home=rent:x", "=rent", "Home=", "rent"] {
        let e = Flip::parse(bad).unwrap_err().0;
        assert!(
            e.contains("--flip-labels") && e.contains("COL=VALUE"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn a_flipped_label_is_the_next_class() {
    let t = targets(&["bad", "good"]);
    assert_eq!(t.flipped(&Value::from("bad")), Value::from("good"));
    assert_eq!(t.flipped(&Value::from("good")), Value::from("bad"));
    let three = targets(&["a", "b", "c"]);
    assert_eq!(three.flipped(&Value::from("c")), Value::from("a"));
}

#[test]
fn the_segment_is_matched_on_the_sent_value() {
    let columns = ["Home".to_string(), "Age".to_string()];
    let t = targets(&["bad", "good"]);
    let mut rng = SeededRng::new(1);
    let renters = t
        .bind(&Flip::parse("Home=rent").unwrap(), &columns)
        .unwrap();
    assert!(renters.applies(&[Value::from("rent"), Value::from(30.0)], &mut rng));
    assert!(!renters.applies(&[Value::from("owner"), Value::from(30.0)], &mut rng));
    let thirty = t.bind(&Flip::parse("Age=30").unwrap(), &columns).unwrap();
    assert!(thirty.applies(&[Value::Null, Value::from(30.0)], &mut rng));
    let half = t.bind(&Flip::parse("0.5").unwrap(), &columns).unwrap();
    let flipped = (0..1000)
        .filter(|_| half.applies(&[Value::Null, Value::Null], &mut rng))
        .count();
    assert!((400..600).contains(&flipped), "{flipped}");
    let e = t
        .bind(&Flip::parse("Job=fixed").unwrap(), &columns)
        .err()
        .unwrap()
        .0;
    assert!(
        e.contains("no column \"Job\"") && e.contains("Home, Age"),
        "{e}"
    );
    let e = targets(&["good"])
        .bind(&Flip::parse("0.1").unwrap(), &columns)
        .err()
        .unwrap()
        .0;
    assert!(e.contains("single class"), "{e}");
}
