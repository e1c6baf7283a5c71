"""`ionflow run` exits 1 when a job failed, also when the report itself finished."""

from __future__ import annotations

from pathlib import Path

from jobflow import Flow, Response, job

from ionflow.pipeline.site_comparison import SiteComparisonDocument

SPEC = Path(__file__).resolve().parents[1] / "data" / "pipeline" / "tiny_chgnet.yaml"


@job
def finished_report() -> dict:
    """Stands in for the report: a job that finishes."""
    return {"name": "stand-in"}


@job
def failing_study() -> None:
    """A study job beside the report that fails."""
    raise RuntimeError("lost atoms in the study's MD [Errno 5]")


class _TwoJobs:
    def __init__(self, fail: bool) -> None:
        self.fail = fail

    def make(self, _material) -> Flow:
        report = finished_report()
        jobs = [report, failing_study()] if self.fail else [report]
        return Flow(jobs, output=report.output)


def _run(cli, monkeypatch, tmp_path: Path, fail: bool):
    printed = []
    monkeypatch.setattr(
        "ionflow.pipeline.flow.PipelineMaker.from_spec", lambda spec: _TwoJobs(fail)
    )
    monkeypatch.setattr(
        "ionflow.cli.pipeline.print_report", lambda report, plot_dir: printed.append(report)
    )
    result = cli("run", str(SPEC), "--out", str(tmp_path / "run"))
    return result, printed


def test_run_exits_1_when_a_job_beside_the_report_failed(cli, monkeypatch, tmp_path):
    result, printed = _run(cli, monkeypatch, tmp_path, fail=True)
    assert printed == [{"name": "stand-in"}]  # the report is still shown
    assert result.exit_code == 1, result.output
    assert "some jobs failed" in result.output
    # the failure is one line naming the job and its error; the traceback is in its folder
    (line,) = [ln for ln in result.output.splitlines() if "failed:" in ln]
    assert line.startswith("job 'failing_study' failed: RuntimeError: lost atoms in the study's MD")
    assert "Traceback" not in result.output
    (trace,) = (tmp_path / "run").glob("job_*/traceback.txt")
    assert "lost atoms in the study's MD" in trace.read_text() and str(trace) in line
    assert "[Errno 5]" in line  # the message as it was, brackets and all


def test_run_exits_1_with_the_failed_job_when_there_is_no_report(cli, monkeypatch, tmp_path):
    class _FailingReport:
        def make(self, _material) -> Flow:
            study = failing_study()
            return Flow([study], output=study.output)

    monkeypatch.setattr(
        "ionflow.pipeline.flow.PipelineMaker.from_spec", lambda spec: _FailingReport()
    )
    result = cli("run", str(SPEC), "--out", str(tmp_path / "run"))
    assert result.exit_code == 1, result.output
    assert "job 'failing_study' failed: RuntimeError: lost atoms" in result.output
    assert "the workflow did not finish" in result.output and "Traceback" not in result.output


def test_run_exits_0_when_every_job_finished(cli, monkeypatch, tmp_path):
    result, printed = _run(cli, monkeypatch, tmp_path, fail=False)
    assert printed == [{"name": "stand-in"}]
    assert result.exit_code == 0, result.output
    assert "some jobs failed" not in result.output


@job
def comparison() -> SiteComparisonDocument:
    """A site comparison (no sites: the printer is replaced)."""
    return SiteComparisonDocument(name="stand-in", extrapolation_K=298.0, oracle="chgnet", sites=[])


@job
def site_reports() -> Response:
    """Like SiteReportsMaker.make: replaced by a flow whose output closes the run."""
    closing = comparison()
    return Response(replace=Flow([closing], output=closing.output))


def test_a_replaced_closing_job_prints_its_replacement_document(cli, monkeypatch, tmp_path):
    class _Replaced:
        def make(self, _material) -> Flow:
            closing = site_reports()
            return Flow([closing], output=closing.output)

    printed = []
    monkeypatch.setattr("ionflow.pipeline.flow.PipelineMaker.from_spec", lambda spec: _Replaced())
    monkeypatch.setattr(
        "ionflow.cli.site_report.print_site_comparison",
        lambda report, plot_dir: printed.append(report),
    )
    result = cli("run", str(SPEC), "--out", str(tmp_path / "run"))
    # jobflow hands back the replacement's pydantic document: printed as the comparison
    assert result.exit_code == 0, result.output
    assert [(r["name"], r["sites"]) for r in printed] == [("stand-in", [])]


def test_a_long_error_is_cut_on_its_line_and_whole_in_the_traceback():
    from ionflow.cli.failed_jobs import MAX_ERROR_CHARS, error_line

    trace = "Traceback (most recent call last):\n  ...\nValueError: " + "x" * 5000 + "\n"
    line = error_line(trace)
    assert line.startswith("ValueError: xxx") and line.endswith(" ...")
    assert len(line) == len("ValueError: ") + MAX_ERROR_CHARS + len(" ...")
    assert error_line("ionflow.md.run.MdUnstableError: lost\n") == "MdUnstableError: lost"
