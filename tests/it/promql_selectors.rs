//! Finds the series selectors of a PromQL expression: metric name, label matchers, range,
//! and the innermost function around each. Enough for lint rules ("every selector has a
//! job matcher", "counters only inside rate/increase"); syntax itself is checked by
//! promtool in `alerts/check.sh`, so this scanner only needs to be right on valid PromQL.

/// One `metric{matchers}[range]` occurrence in an expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    /// Metric name; empty for a bare `{…}` selector.
    pub metric: String,
    /// The text between the braces, or empty when there are none.
    pub matchers: String,
    /// The text between the brackets of a range selector, if any.
    pub range: Option<String>,
    /// The function or aggregation whose parentheses directly enclose the selector.
    pub enclosing_function: Option<String>,
}

impl Selector {
    /// The metric names the selector can match: its name, or for a bare `{…}` selector the
    /// names its `__name__` matcher lists (`="name"`, or `=~"a|b|c"` of plain names, which
    /// is all the dashboards use; anything else is an error, so a lint never waves through
    /// a name it cannot read).
    pub fn metric_names(&self) -> Result<Vec<String>, String> {
        if !self.metric.is_empty() {
            return Ok(vec![self.metric.clone()]);
        }
        let Some(at) = self.matchers.find("__name__") else {
            return Err(format!("{{{}}} names no metric", self.matchers));
        };
        let rest = self.matchers[at + "__name__".len()..].trim_start();
        let (regex, rest) = match rest.strip_prefix("=~") {
            Some(rest) => (true, rest),
            None => (false, rest.strip_prefix('=').unwrap_or("!")),
        };
        let value = rest
            .trim_start()
            .strip_prefix('"')
            .and_then(|v| v.split_once('"'))
            .map(|(v, _)| v)
            .ok_or_else(|| {
                format!(
                    "__name__ in {{{}}} is not `=` or `=~` a string",
                    self.matchers
                )
            })?;
        let names: Vec<String> = if regex {
            value.split('|').map(str::to_string).collect()
        } else {
            vec![value.to_string()]
        };
        let plain = |n: &str| {
            n.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        };
        match names.iter().find(|n| !plain(n)) {
            Some(n) => Err(format!(
                "__name__ in {{{}}}: {n:?} is not a plain metric name",
                self.matchers
            )),
            None => Ok(names),
        }
    }
}

/// Aggregation operators: `sum by (x) (…)` puts the parentheses after a grouping clause.
const AGGREGATIONS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];

/// Keywords followed by a parenthesised list of label names, not an expression.
const LABEL_LIST_KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// Words that are operators or literals, never metric names.
const OPERATOR_WORDS: &[&str] = &[
    "and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "Inf", "NaN",
];

/// Every selector in `expr`, in order of appearance.
pub fn selectors(expr: &str) -> Result<Vec<Selector>, String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut found = Vec::new();
    // One entry per open parenthesis: the function it belongs to, if any.
    let mut stack: Vec<Option<String>> = Vec::new();
    // An aggregation seen but whose parenthesis has not come yet (`sum by (x) (`).
    let mut pending_aggregation: Option<String> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' || c == '`' {
            i = skip_string(&chars, i)?;
        } else if c == '(' {
            stack.push(pending_aggregation.take());
            i += 1;
        } else if c == ')' {
            stack
                .pop()
                .ok_or_else(|| format!("unbalanced ')' at {i} in {expr:?}"))?;
            i += 1;
        } else if c == '{' {
            // A selector without a metric name.
            let (matchers, next) = delimited(&chars, i, '{', '}')?;
            let (range, next) = optional_range(&chars, next)?;
            found.push(Selector {
                metric: String::new(),
                matchers,
                range,
                enclosing_function: stack.last().cloned().flatten(),
            });
            i = next;
        } else if c == '[' {
            // A subquery range after a parenthesised expression: not a selector.
            let (_, next) = delimited(&chars, i, '[', ']')?;
            i = next;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            i = skip_number_or_duration(&chars, i);
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = skip_whitespace(&chars, i);
            let next_char = chars.get(next).copied();
            if LABEL_LIST_KEYWORDS.contains(&word.as_str()) {
                if next_char == Some('(') {
                    let (_, after) = delimited(&chars, next, '(', ')')?;
                    i = after;
                }
            } else if AGGREGATIONS.contains(&word.as_str()) && next_char != Some('{') {
                pending_aggregation = Some(word);
            } else if next_char == Some('(') {
                stack.push(Some(word));
                i = next + 1;
            } else if OPERATOR_WORDS.contains(&word.as_str()) {
                // `offset 5m`: the duration is skipped as a number on the next turn.
            } else {
                let (matchers, after) = if next_char == Some('{') {
                    delimited(&chars, next, '{', '}')?
                } else {
                    (String::new(), i)
                };
                let (range, after) = optional_range(&chars, after)?;
                found.push(Selector {
                    metric: word,
                    matchers,
                    range,
                    enclosing_function: stack.last().cloned().flatten(),
                });
                i = after;
            }
        } else {
            // Operators and punctuation: + - * / % ^ = ! < > , @
            i += 1;
        }
    }
    if !stack.is_empty() {
        return Err(format!("unclosed '(' in {expr:?}"));
    }
    Ok(found)
}

fn skip_whitespace(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    i
}

fn skip_string(chars: &[char], start: usize) -> Result<usize, String> {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if quote != '`' => i += 2,
            c if c == quote => return Ok(i + 1),
            _ => i += 1,
        }
    }
    Err(format!("unterminated string starting at {start}"))
}

/// Numbers (`0.5`, `1e-4`, `0x1f`) and durations (`5m`, `1h30m`).
fn skip_number_or_duration(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() {
        let c = chars[i];
        let exponent_sign = (c == '-' || c == '+') && matches!(chars.get(i - 1), Some('e' | 'E'));
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' || exponent_sign {
            i += 1;
        } else {
            break;
        }
    }
    i
}

/// The text between `open` at `start` and its matching `close`, skipping strings.
fn delimited(
    chars: &[char],
    start: usize,
    open: char,
    close: char,
) -> Result<(String, usize), String> {
    let mut depth = 0;
    let mut i = start;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(chars, i)?;
            continue;
        }
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Ok((chars[start + 1..i].iter().collect(), i + 1));
            }
        }
        i += 1;
    }
    Err(format!("unclosed '{open}' at {start}"))
}

fn optional_range(chars: &[char], i: usize) -> Result<(Option<String>, usize), String> {
    let next = skip_whitespace(chars, i);
    if chars.get(next) == Some(&'[') {
        let (range, after) = delimited(chars, next, '[', ']')?;
        Ok((Some(range.trim().to_string()), after))
    } else {
        Ok((None, i))
    }
}

#[test]
fn scanner_finds_selectors_functions_and_ranges() {
    let expr = r#"histogram_quantile(0.99, sum by (model, le) (rate(modelwatch_request_duration_seconds_bucket{job=~"$job",le="0.5"}[$__rate_interval])))
        / on (model) group_left () max without (instance) (modelwatch_requests_in_flight offset 5m) > bool 1e-4"#;
    let found = selectors(expr).unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(
        found[0].metric,
        "modelwatch_request_duration_seconds_bucket"
    );
    assert_eq!(found[0].matchers, r#"job=~"$job",le="0.5""#);
    assert_eq!(found[0].range.as_deref(), Some("$__rate_interval"));
    assert_eq!(found[0].enclosing_function.as_deref(), Some("rate"));
    assert_eq!(found[1].metric, "modelwatch_requests_in_flight");
    assert_eq!(found[1].matchers, "");
    assert_eq!(found[1].enclosing_function.as_deref(), Some("max"));
}

#[test]
fn scanner_ignores_label_names_strings_and_recording_rule_colons() {
    let expr = r#"label_replace(modelwatch:feature_psi:1h{job="a"}, "dst", "$1", "feature", "(.*)") and on (job, feature) up"#;
    let found = selectors(expr).unwrap();
    let names: Vec<&str> = found.iter().map(|s| s.metric.as_str()).collect();
    assert_eq!(names, ["modelwatch:feature_psi:1h", "up"]);
    assert_eq!(
        found[0].enclosing_function.as_deref(),
        Some("label_replace")
    );
    assert_eq!(found[1].enclosing_function, None);
}

#[test]
fn bare_selectors_name_their_metrics_through_name_matchers() {
    let names = |expr: &str| selectors(expr).unwrap()[0].metric_names();
    assert_eq!(
        names(r#"{__name__=~"a_total|b:rate5m", job=~"$job"}"#).unwrap(),
        ["a_total", "b:rate5m"]
    );
    assert_eq!(names(r#"{job="x", __name__ = "up"}"#).unwrap(), ["up"]);
    assert_eq!(names(r#"up{job="x"}"#).unwrap(), ["up"]);
    assert!(names(r#"{__name__=~"modelwatch_.+"}"#).is_err());
    assert!(names(r#"{__name__!="up"}"#).is_err());
    assert!(names(r#"{job="x"}"#).is_err());
}
