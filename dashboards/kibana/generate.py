#!/usr/bin/env python3
"""Writes modelwatch.ndjson, the Kibana 8.x saved objects for modelwatch's Elasticsearch data.

    python3 dashboards/kibana/generate.py            # writes modelwatch.ndjson
    python3 dashboards/kibana/generate.py --check    # exit 1 if the file is stale

Kibana stores nested JSON as strings (searchSourceJSON, panelsJSON) and ties objects
together by named references; writing that by hand invites typos, so the objects are
described here and serialised. Edit this file, run it, commit both. Standard library only.

The field names are the index templates' (src/export/elasticsearch/templates.rs, documented
in docs/events.md); tests/it/kibana_objects.rs checks every field, reference and query
against the template the sidecar installs and against a real OpenSearch node.
"""

import json
import pathlib
import sys

CORE_MIGRATION_VERSION = "8.8.0"
# The oldest migration version at which each type already has the shape written here, so a
# Kibana from 8.9 on imports them and runs only its newer migrations (Lens 8.9.0 is the
# first with the `formBased` datasource and the current formatter params).
TYPE_MIGRATION_VERSION = {
    "index-pattern": "7.11.0",
    "search": "7.9.3",
    "lens": "8.9.0",
    "dashboard": "8.7.0",
}

INFERENCE = "modelwatch-inference"
DRIFT = "modelwatch-drift"
PERFORMANCE = "modelwatch-performance"

# Slow requests: a request whose head-in to last-byte-out time is above this. event.duration
# is in nanoseconds (ECS), so 500 ms is 500000000.
SLOW_NS = 500_000_000
# The quickstart trains and registers credit@1 (`modelwatch quickstart`).
EXAMPLE_MODEL = "credit"
EXAMPLE_VERSION = "1"


def compact(value, **options):
    """JSON as Kibana stores nested JSON strings: no spaces."""
    return json.dumps(value, separators=(",", ":"), **options)


def saved(kind, object_id, attributes, references=()):
    return {
        "type": kind,
        "id": object_id,
        "attributes": attributes,
        "references": list(references),
        "coreMigrationVersion": CORE_MIGRATION_VERSION,
        "typeMigrationVersion": TYPE_MIGRATION_VERSION[kind],
    }


def data_view(object_id, title, name, field_formats):
    return saved(
        "index-pattern",
        object_id,
        {
            "title": title,
            "name": name,
            "timeFieldName": "@timestamp",
            # Fields are read from the cluster (_field_caps) when the view is opened.
            "fields": "[]",
            "fieldFormatMap": compact(field_formats),
            "runtimeFieldMap": "{}",
            "sourceFilters": "[]",
            "typeMeta": "{}",
            # Usable before the sidecar has written the first document.
            "allowNoIndex": True,
        },
    )


def phrase_filter(field, value, ref_name):
    """A filter pill `field: value`, as Discover saves it."""
    return {
        "meta": {
            "alias": None,
            "negate": False,
            "disabled": False,
            "type": "phrase",
            "key": field,
            "params": {"query": value},
            "indexRefName": ref_name,
        },
        "query": {"match_phrase": {field: value}},
        "$state": {"store": "appState"},
    }


def search(object_id, title, description, view, query, columns, sort, filters=()):
    index_ref = "kibanaSavedObjectMeta.searchSourceJSON.index"
    references = [{"type": "index-pattern", "id": view, "name": index_ref}]
    stored_filters = []
    for i, (field, value) in enumerate(filters):
        ref = f"kibanaSavedObjectMeta.searchSourceJSON.filter[{i}].meta.index"
        references.append({"type": "index-pattern", "id": view, "name": ref})
        stored_filters.append(phrase_filter(field, value, ref))
    source = {
        "query": {"query": query, "language": "lucene"},
        "filter": stored_filters,
        "highlightAll": True,
        "version": True,
        "indexRefName": index_ref,
    }
    return saved(
        "search",
        object_id,
        {
            "title": title,
            "description": description,
            "columns": columns,
            "sort": sort,
            "hits": 0,
            "version": 1,
            "kibanaSavedObjectMeta": {"searchSourceJSON": compact(source)},
        },
        references,
    )


def date_histogram():
    return {
        "label": "@timestamp",
        "dataType": "date",
        "operationType": "date_histogram",
        "sourceField": "@timestamp",
        "isBucketed": True,
        "scale": "interval",
        "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False},
    }


def top_values(field, data_type, size, order_column, label):
    return {
        "label": label,
        "customLabel": True,
        "dataType": data_type,
        "operationType": "terms",
        "sourceField": field,
        "isBucketed": True,
        "scale": "ordinal",
        "params": {
            "size": size,
            "orderBy": {"type": "column", "columnId": order_column},
            "orderDirection": "desc",
            "otherBucket": True,
            "missingBucket": False,
            "parentFormat": {"id": "terms"},
        },
    }


def metric(operation, field, label, params=None):
    column = {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": operation,
        "sourceField": field,
        "isBucketed": False,
        "scale": "ratio",
        "params": {"emptyAsNull": True},
    }
    if params:
        column["params"].update(params)
    return column


def count(label):
    return metric("count", "___records___", label)


def lens_xy(object_id, title, description, view, series_type, metric_column, split_column):
    """One layer: time on x, one metric, one series per top value of `split_column`."""
    return lens_xy_metrics(object_id, title, description, view, series_type,
                           [("value", metric_column)], split_column)


def lens_xy_metrics(object_id, title, description, view, series_type, metric_columns,
                    split_column):
    """One layer: time on x, the metrics `metric_columns` ((column id, column), the first
    orders the split), one series per metric and top value of `split_column`."""
    layer = "layer1"
    columns = {"time": date_histogram(), "split": split_column}
    columns.update(metric_columns)
    accessors = [column_id for column_id, _ in metric_columns]
    state = {
        "datasourceStates": {
            "formBased": {
                "layers": {
                    layer: {
                        "columns": columns,
                        "columnOrder": ["split", "time"] + accessors,
                        "incompleteColumns": {},
                    }
                }
            }
        },
        "visualization": {
            "legend": {"isVisible": True, "position": "right"},
            "valueLabels": "hide",
            "fittingFunction": "None",
            "preferredSeriesType": series_type,
            "layers": [
                {
                    "layerId": layer,
                    "layerType": "data",
                    "seriesType": series_type,
                    "xAccessor": "time",
                    "splitAccessor": "split",
                    "accessors": accessors,
                }
            ],
        },
        "query": {"query": "", "language": "kuery"},
        "filters": [],
        "internalReferences": [],
        "adHocDataViews": {},
    }
    return saved(
        "lens",
        object_id,
        {
            "title": title,
            "description": description,
            "visualizationType": "lnsXY",
            "state": state,
        },
        [{"type": "index-pattern", "id": view, "name": f"indexpattern-datasource-layer-{layer}"}],
    )


def dashboard(object_id, title, description, panels):
    """`panels`: (saved object type, id, x, y, w, h)."""
    stored = []
    references = []
    for n, (kind, target, x, y, w, h) in enumerate(panels, start=1):
        index = f"p{n}"
        stored.append(
            {
                "type": kind,
                "panelIndex": index,
                "gridData": {"x": x, "y": y, "w": w, "h": h, "i": index},
                "embeddableConfig": {"enhancements": {}},
                "panelRefName": f"panel_{index}",
                "version": "8.9.0",
            }
        )
        references.append({"type": kind, "id": target, "name": f"{index}:panel_{index}"})
    return saved(
        "dashboard",
        object_id,
        {
            "title": title,
            "description": description,
            "panelsJSON": compact(stored),
            "optionsJSON": compact(
                {"useMargins": True, "syncColors": False, "syncCursor": True,
                 "syncTooltips": False, "hidePanelTitles": False}
            ),
            "timeRestore": True,
            "timeFrom": "now-1h",
            "timeTo": "now",
            "refreshInterval": {"pause": False, "value": 30000},
            "version": 1,
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": compact(
                    {"query": {"query": "", "language": "kuery"}, "filter": []}
                )
            },
        },
        references,
    )


REQUEST_COLUMNS = [
    "modelwatch.model",
    "modelwatch.model_version",
    "http.response.status_code",
    "event.duration",
    "url.path",
    "http.request.id",
    "trace.id",
]
# Why each failed: the model server's status, or the sidecar's own answer (502, 504, …).
ERROR_COLUMNS = [
    "modelwatch.model",
    "modelwatch.model_version",
    "http.response.status_code",
    "error.type",
    "error.message",
    "url.path",
    "http.request.id",
    "trace.id",
]
DRIFT_COLUMNS = [
    "modelwatch.model",
    "modelwatch.model_version",
    "modelwatch.feature",
    "modelwatch.method",
    "modelwatch.statistic",
    "modelwatch.score",
    "modelwatch.p_value",
    "modelwatch.threshold",
    "modelwatch.drift_share",
    "modelwatch.window_rows",
]

# One row per model version and quality evaluation, the figures side by side.
PERFORMANCE_COLUMNS = [
    "modelwatch.model",
    "modelwatch.model_version",
    "modelwatch.rows",
    "modelwatch.label_coverage",
    "modelwatch.metrics.accuracy",
    "modelwatch.estimated.metrics.accuracy.value",
    "modelwatch.estimated.metrics.accuracy.lower",
    "modelwatch.estimated.metrics.accuracy.upper",
    "modelwatch.reference.accuracy",
    "modelwatch.metrics.roc_auc",
    "modelwatch.estimated.metrics.roc_auc.value",
    "modelwatch.reference.roc_auc",
]
# The realised-vs-estimated chart's metric; the same chart for another metric is a copy
# with this name replaced in the five fields.
CHART_METRIC = "accuracy"

OBJECTS = [
    data_view(
        INFERENCE,
        "logs-modelwatch.inference-*",
        "modelwatch inference requests",
        {
            "event.duration": {
                "id": "duration",
                "params": {"inputFormat": "nanoseconds", "outputFormat": "asMilliseconds",
                           "outputPrecision": 1, "showSuffix": True, "useShortSuffix": True},
            }
        },
    ),
    data_view(DRIFT, "metrics-modelwatch.drift-*", "modelwatch drift snapshots", {}),
    data_view(
        PERFORMANCE,
        "metrics-modelwatch.performance-*",
        "modelwatch performance",
        {"modelwatch.label_coverage": {"id": "percent", "params": {"pattern": "0.[0]%"}}},
    ),
    search(
        "modelwatch-server-errors",
        "[modelwatch] Server errors (5xx)",
        "Inference requests the client got a 5xx for, from the model server or from the "
        "sidecar itself (502 no connection, 504 response timeout), newest first; error.type "
        "says which.",
        INFERENCE,
        "http.response.status_code:[500 TO 599]",
        ERROR_COLUMNS,
        [["@timestamp", "desc"]],
    ),
    search(
        "modelwatch-slow-requests",
        "[modelwatch] Slow requests (over 500 ms)",
        "Inference requests that took more than 500 ms from request head in to last "
        "response byte out (event.duration is in nanoseconds), slowest first.",
        INFERENCE,
        f"event.duration:>{SLOW_NS}",
        REQUEST_COLUMNS,
        [["event.duration", "desc"]],
    ),
    search(
        "modelwatch-drifted-features",
        "[modelwatch] Drifted features",
        "Drift snapshots whose test flagged drift: one row per model version, feature "
        "(or prediction:<output>) and evaluation.",
        DRIFT,
        "modelwatch.drifted:true",
        DRIFT_COLUMNS,
        [["@timestamp", "desc"]],
    ),
    search(
        "modelwatch-labelled-performance",
        "[modelwatch] Performance with labels",
        "Quality evaluations whose window holds labels (modelwatch.rows > 0): realised "
        "figures beside the estimate before labels, its band and the registry's reference, "
        "one row per model version and evaluation.",
        PERFORMANCE,
        "modelwatch.rows:>0",
        PERFORMANCE_COLUMNS,
        [["@timestamp", "desc"]],
    ),
    search(
        "modelwatch-model-version",
        f"[modelwatch] Requests of {EXAMPLE_MODEL}@{EXAMPLE_VERSION}",
        "All inference requests of one model version: change the model in the query and "
        "the version in the filter.",
        INFERENCE,
        f"modelwatch.model:{EXAMPLE_MODEL}",
        REQUEST_COLUMNS,
        [["@timestamp", "desc"]],
        filters=[("modelwatch.model_version", EXAMPLE_VERSION)],
    ),
    lens_xy(
        "modelwatch-requests-by-status",
        "[modelwatch] Requests over time by status",
        "Inference requests per interval, one series per HTTP status the client received.",
        INFERENCE,
        "bar_stacked",
        count("Requests"),
        top_values("http.response.status_code", "number", 10, "value", "Status"),
    ),
    lens_xy(
        "modelwatch-p95-duration",
        "[modelwatch] p95 request duration by model version",
        "95th percentile of event.duration (request head in to last byte out) per "
        "interval, one line per model version.",
        INFERENCE,
        "line",
        metric("percentile", "event.duration", "p95 duration", {"percentile": 95}),
        top_values("modelwatch.model_version", "string", 5, "value", "Model version"),
    ),
    lens_xy(
        "modelwatch-drift-score",
        "[modelwatch] Drift score by feature over time",
        "Highest drift score per interval, one line per feature (predictions as "
        "prediction:<output>); compare with the threshold column of the snapshots.",
        DRIFT,
        "line",
        metric("max", "modelwatch.score", "Drift score (max)"),
        top_values("modelwatch.feature", "string", 20, "value", "Feature"),
    ),
    lens_xy(
        "modelwatch-drift-share",
        "[modelwatch] Share of drifted features by model version",
        "Share of features flagged at each evaluation (dataset drift above the configured "
        "drift_share, 0.5 by default).",
        DRIFT,
        "line",
        metric("max", "modelwatch.drift_share", "Drift share"),
        top_values("modelwatch.model_version", "string", 5, "value", "Model version"),
    ),
    lens_xy_metrics(
        "modelwatch-performance-accuracy",
        f"[modelwatch] Realised vs estimated {CHART_METRIC} by model version",
        f"Per model version and interval: realised {CHART_METRIC} from joined labels, the "
        "estimate before labels (CBPE) with the lower and upper edge of its band, and the "
        "validation figure from the registry. The estimate leads, the realised figure "
        "confirms once labels arrive; CBPE cannot see a concept shift.",
        PERFORMANCE,
        "line",
        [
            ("realised", metric("max", f"modelwatch.metrics.{CHART_METRIC}", "Realised")),
            ("estimated", metric("max", f"modelwatch.estimated.metrics.{CHART_METRIC}.value",
                                 "Estimated")),
            ("lower", metric("min", f"modelwatch.estimated.metrics.{CHART_METRIC}.lower",
                             "Estimate band, lower")),
            ("upper", metric("max", f"modelwatch.estimated.metrics.{CHART_METRIC}.upper",
                             "Estimate band, upper")),
            ("reference", metric("max", f"modelwatch.reference.{CHART_METRIC}", "Reference")),
        ],
        top_values("modelwatch.model_version", "string", 5, "estimated", "Model version"),
    ),
    lens_xy(
        "modelwatch-label-coverage",
        "[modelwatch] Label coverage by model version",
        "Share of each version's predictions within quality.window that have a label "
        "(the highest of each interval's evaluations); falling to zero means the label "
        "feed stopped.",
        PERFORMANCE,
        "line",
        metric("max", "modelwatch.label_coverage", "Label coverage"),
        top_values("modelwatch.model_version", "string", 5, "value", "Model version"),
    ),
    lens_xy(
        "modelwatch-missing-rate",
        "[modelwatch] Missing values by feature",
        "Share of the drift window's rows missing each feature (a data-quality spike shows "
        "here before it shows as drift).",
        DRIFT,
        "line",
        metric("max", "modelwatch.missing_rate", "Missing rate"),
        top_values("modelwatch.feature", "string", 20, "value", "Feature"),
    ),
]

OBJECTS.append(
    dashboard(
        "modelwatch-dashboard",
        "[modelwatch] Inference requests, drift and model quality",
        "Traffic, latency and errors of the inference requests the modelwatch sidecar "
        "exported, the drift snapshots of its live drift evaluations, and the performance "
        "documents of its quality evaluations (quality.enabled).",
        [
            ("lens", "modelwatch-requests-by-status", 0, 0, 24, 12),
            ("lens", "modelwatch-p95-duration", 24, 0, 24, 12),
            ("lens", "modelwatch-drift-score", 0, 12, 16, 12),
            ("lens", "modelwatch-drift-share", 16, 12, 16, 12),
            ("lens", "modelwatch-missing-rate", 32, 12, 16, 12),
            ("search", "modelwatch-server-errors", 0, 24, 24, 15),
            ("search", "modelwatch-slow-requests", 24, 24, 24, 15),
            ("search", "modelwatch-drifted-features", 0, 39, 48, 15),
            ("search", "modelwatch-model-version", 0, 54, 48, 15),
            ("lens", "modelwatch-performance-accuracy", 0, 69, 32, 12),
            ("lens", "modelwatch-label-coverage", 32, 69, 16, 12),
            ("search", "modelwatch-labelled-performance", 0, 81, 48, 15),
        ],
    )
)


def main():
    out = pathlib.Path(__file__).with_name("modelwatch.ndjson")
    text = "\n".join(compact(o, sort_keys=True) for o in OBJECTS) + "\n"
    if "--check" in sys.argv[1:]:
        # For the tests: the committed file must be this script's output.
        if not out.exists() or out.read_text() != text:
            sys.exit(f"{out} is not what generate.py writes: run "
                     "`python3 dashboards/kibana/generate.py` and commit the result")
        print(f"{out} is up to date")
        return
    out.write_text(text)
    print(f"wrote {len(OBJECTS)} objects to {out}")


if __name__ == "__main__":
    main()
