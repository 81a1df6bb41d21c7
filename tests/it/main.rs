//! modelwatch's integration tests: one binary, one module per area. Tests run the real
//! `modelwatch` binary against real HTTP servers bound on loopback, and check the shipped
//! rules, dashboards and deployment files.

mod admin_api;
mod alert_rules;
mod compose_image;
mod dashboards;
mod dataset_cli;
mod deploy_files;
mod deploy_rehearsal;
mod drift_calibration;
mod drift_cli;
mod drift_page;
mod drift_stats;
mod export_capture;
mod export_drift;
mod export_elasticsearch;
mod export_event_fields;
mod export_outage;
mod export_refusals;
mod export_tls;
mod follow_alias;
mod fuzz_corpus;
mod healthcheck;
mod kibana_objects;
mod live_drift;
mod live_payloads;
mod metric_contract;
mod ml_jobs;
mod ml_metrics;
mod ml_pipeline;
mod ml_registry;
mod ml_support;
mod model_quality;
mod otlp;
mod prometheus_live;
mod promql_selectors;
mod protocol_corpus;
mod provenance;
mod proxy;
mod quickstart;
mod readonly_home;
mod registry_serve;
mod support;
mod tidy;
