"""pytest plugin that benchmarks/report.py loads into its run (-p report_plugin): every
benchmark row gets others_cpu, the share of the machine's CPUs that other processes used while
it ran, also the rows whose tests time with pytest-benchmark directly (bench_support.timed
records it itself; this fills in the rest), so the report can flag every row measured on a
busy machine."""
import pytest

from bench_support import _cpu_clock, others_share


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    bench = getattr(item, "funcargs", {}).get("benchmark")
    before = _cpu_clock()
    yield
    if bench is None or getattr(bench, "disabled", True):
        return
    if bench.extra_info.get("others_cpu") is None:
        share = others_share(before, _cpu_clock())
        bench.extra_info["others_cpu"] = None if share is None else round(share, 3)
