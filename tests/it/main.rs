//! The one integration test binary; each module is a test area.

mod alert_rules;
mod dashboards;
mod metric_contract;
mod promql_selectors;
