"""`build_context`: every section of the report, assembled for the templates."""

from __future__ import annotations

from typing import Any

from spen.report.ablations import ablation_comparisons, ablation_table
from spen.report.analysis import analysis_table
from spen.report.benchmarks import (
    bench_tables,
    featurize_table,
    gpu_sharing_table,
    pipeline_time_table,
    projection_table,
    setting_cost_tables,
)
from spen.report.calibration import calibration_table, reliability_charts
from spen.report.choices import choices
from spen.report.claims import claim_comparisons, claims_forest, claims_table
from spen.report.collect import Inputs
from spen.report.comparison import gain_table, global_table, main_table
from spen.report.curves import learning_curves
from spen.report.inference_speed import inference_tables, speed_accuracy_charts
from spen.report.inventory import inventory_table
from spen.report.ner import ner_tables
from spen.report.parameters import parameter_table
from spen.report.provenance import environment_table, status
from spen.report.results import Results
from spen.report.search_budget import budget_table
from spen.report.speed import training_speed_tables
from spen.report.tuning_table import progress_table, tuning_table
from spen.report.verdict import verdict_panel


def build_context(inputs: Inputs) -> dict[str, Any]:
    """Everything the templates lay out."""
    res = Results(inputs)
    speed = training_speed_tables(res)
    comparisons = claim_comparisons(res)
    ablations = ablation_comparisons(res)
    return {
        "title": "spen: energy-based sequence labelling with inference networks",
        "subtitle": "A reproduction of Tu, Pang & Gimpel (2020)",
        "status": status(inputs),
        "verdict": verdict_panel(res, comparisons, ablations),
        "main": main_table(res),
        "gain": gain_table(res),
        "global": global_table(res),
        "claims": claims_table(res, comparisons),
        "claims_forest": claims_forest(comparisons),
        "ablations": ablation_table(res, ablations),
        "tuning": tuning_table(res),
        "budget": budget_table(res),
        "tuning_progress": progress_table(res),
        "inventory": inventory_table(res),
        "ner": ner_tables(res),
        "curves": learning_curves(res),
        "train_speed": speed[0],
        "train_speed_runs": speed[1],
        "bench": bench_tables(res),
        "pipeline_times": pipeline_time_table(inputs),
        "gpu_sharing": gpu_sharing_table(inputs),
        "projection": projection_table(inputs),
        "featurize": featurize_table(inputs),
        "setting_costs": setting_cost_tables(res),
        "parameters": parameter_table(res),
        "analysis": analysis_table(res),
        "calibration": calibration_table(res),
        "reliability": reliability_charts(res),
        "inference_speed": inference_tables(res),
        "speed_accuracy": speed_accuracy_charts(res),
        "environment": environment_table(inputs),
        "choices": choices(inputs),
    }
