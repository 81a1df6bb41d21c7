//! Drift injection for replayed rows: `Income*1.5`, `Age+10`, `Age-5`, `Home=rent:0.8`
//! (set to `rent` in 80 % of rows), `Job=missing:0.3` (blank in 30 % of rows).

use crate::exit::UsageError;
use crate::random::SeededRng;
use serde_json::Value;

/// One change applied to one column of every replayed row.
#[derive(Clone, Debug, PartialEq)]
pub enum Injection {
    Scale {
        column: String,
        factor: f64,
    },
    Shift {
        column: String,
        delta: f64,
    },
    Set {
        column: String,
        value: Option<String>,
        share: f64,
    },
}

impl Injection {
    /// Parses one `--drift` value.
    pub fn parse(spec: &str) -> Result<Injection, UsageError> {
        let bad = |why: &str| {
            UsageError(format!(
                "--drift {spec:?}: {why}; use COL*FACTOR, COL+DELTA, COL-DELTA or COL=VALUE:SHARE \
                 (VALUE `missing` blanks the cell), e.g. Income*1.5, Age+10, Home=rent:0.8"
            ))
        };
        if let Some((column, rest)) = spec.split_once('=') {
            let (value, share) = rest.rsplit_once(':').ok_or_else(|| bad("missing :SHARE"))?;
            let share: f64 = share.parse().map_err(|_| bad("SHARE is not a number"))?;
            if !(0.0..=1.0).contains(&share) {
                return Err(bad("SHARE must be between 0 and 1"));
            }
            return Ok(Injection::Set {
                column: column.to_string(),
                value: (value != "missing").then(|| value.to_string()),
                share,
            });
        }
        for (op, make) in [
            ('*', Injection::scale as fn(&str, f64) -> Injection),
            ('+', Injection::shift),
            ('-', Injection::shift_down),
        ] {
            if let Some((column, number)) = spec.split_once(op) {
                let x: f64 = number
                    .parse()
                    .map_err(|_| bad("not a number after the operator"))?;
                if column.is_empty() {
                    return Err(bad("no column name"));
                }
                return Ok(make(column, x));
            }
        }
        Err(bad("no operator"))
    }

    fn scale(column: &str, factor: f64) -> Injection {
        Injection::Scale {
            column: column.to_string(),
            factor,
        }
    }

    fn shift(column: &str, delta: f64) -> Injection {
        Injection::Shift {
            column: column.to_string(),
            delta,
        }
    }

    fn shift_down(column: &str, delta: f64) -> Injection {
        Injection::shift(column, -delta)
    }

    /// The column this injection changes.
    pub fn column(&self) -> &str {
        match self {
            Injection::Scale { column, .. }
            | Injection::Shift { column, .. }
            | Injection::Set { column, .. } => column,
        }
    }

    /// Applies the change to one cell.
    pub fn apply(&self, cell: &mut Value, rng: &mut SeededRng) {
        match self {
            Injection::Scale { factor, .. } => {
                if let Some(x) = cell.as_f64() {
                    *cell = Value::from(x * factor);
                }
            }
            Injection::Shift { delta, .. } => {
                if let Some(x) = cell.as_f64() {
                    *cell = Value::from(x + delta);
                }
            }
            Injection::Set { value, share, .. } => {
                let draw = rng.next_u64() as f64 / u64::MAX as f64;
                if draw < *share {
                    *cell = match value {
                        None => Value::Null,
                        Some(v) => match (cell.is_number(), v.parse::<f64>()) {
                            (true, Ok(x)) => Value::from(x),
                            _ => Value::from(v.clone()),
                        },
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_parses() {
        assert_eq!(
            Injection::parse("Income*1.5").unwrap(),
            Injection::Scale {
                column: "Income".into(),
                factor: 1.5
            }
        );
        assert_eq!(
            Injection::parse("Age+10").unwrap(),
            Injection::Shift {
                column: "Age".into(),
                delta: 10.0
            }
        );
        assert_eq!(
            Injection::parse("Age-5").unwrap(),
            Injection::Shift {
                column: "Age".into(),
                delta: -5.0
            }
        );
        assert_eq!(
            Injection::parse("Home=rent:0.8").unwrap(),
            Injection::Set {
                column: "Home".into(),
                value: Some("rent".into()),
                share: 0.8
            }
        );
        assert_eq!(
            Injection::parse("Job=missing:0.3").unwrap(),
            Injection::Set {
                column: "Job".into(),
                value: None,
                share: 0.3
            }
        );
    }

    #[test]
    fn mistakes_say_how_to_write_it() {
        for bad in ["Income", "Income*x", "Home=rent", "Home=rent:2", "*3"] {
            let err = Injection::parse(bad).unwrap_err().0;
            assert!(err.contains("Income*1.5"), "{bad}: {err}");
        }
    }

    #[test]
    fn set_changes_about_the_share_asked() {
        let mut rng = SeededRng::new(7);
        let inj = Injection::parse("Home=rent:0.8").unwrap();
        let changed = (0..10_000)
            .filter(|_| {
                let mut cell = Value::from("owner");
                inj.apply(&mut cell, &mut rng);
                cell == "rent"
            })
            .count();
        assert!((7_700..8_300).contains(&changed), "{changed}");
    }
}
