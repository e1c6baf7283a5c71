import numpy as np
import pytest


def test_min_dist_warning_is_shown_once(caplog):
    import logging

    import ionflow.mtp.motep_api as api

    api._FirstMinDistWarning.seen = False
    motep_logger = logging.getLogger("motep.potentials.mtp.base")
    with caplog.at_level(logging.WARNING, logger="motep.potentials.mtp.base"):
        for _ in range(5):
            motep_logger.warning("Nearest-neighbor distance (1.0 A) is smaller than min_dist")
        motep_logger.warning("something else")
    messages = [r.getMessage() for r in caplog.records]
    assert sum("min_dist" in m for m in messages) == 1
    assert "not shown" in messages[0] and "something else" in messages


def _untrained_li_s(tmp_path, images):
    from ionflow.mtp import motep_api
    from ionflow.mtp.fitting import min_interatomic_distance
    from ionflow.mtp.templates import untrained_mtp_text

    min_dist = round(min_interatomic_distance(images) * 0.95, 3)
    path = tmp_path / "initial.mtp"
    path.write_text(untrained_mtp_text(8, 2, min_dist, 5.0, 8))
    return motep_api.read_potential(path, ["Li", "S"])


WEIGHTS = (100.0, 1.0, 0.0)


@pytest.mark.slow
def test_fit_stops_when_the_loss_stops_falling(li2s_labelled, tmp_path):
    from ionflow.mtp import motep_api

    window, tol = 10, 1e-2
    data = _untrained_li_s(tmp_path, li2s_labelled)
    log = motep_api.train(
        data, li2s_labelled, WEIGHTS, 400, 0, warm=False, plateau_window=window,
        plateau_rel_tol=tol,
    )  # fmt: skip
    assert log.stopped_by == "loss plateau"
    assert window < log.n_iterations < 400
    loss = np.array(log.loss)
    assert loss[-1] < loss[0]
    gain = (loss[:-window] - loss[window:]) / loss[:-window]  # gain[i]: over i..i+window
    assert gain[-1] < tol and (gain[:-1] >= tol).all()  # stopped at the first plateau
    assert np.all(np.diff(log.seconds) >= 0) and len(log.seconds) == len(log.loss)


@pytest.mark.slow
def test_bfgs_beats_lbfgsb_and_warm_start_continues(li2s_labelled, tmp_path):
    from ionflow.mtp import motep_api

    losses = {}
    for method in ("BFGS", "L-BFGS-B"):
        data = _untrained_li_s(tmp_path, li2s_labelled)
        log = motep_api.train(
            data, li2s_labelled[:20], WEIGHTS, 60, 0, warm=False, plateau_rel_tol=0.0,
            method=method,
        )  # fmt: skip
        assert log.n_iterations == 60 and log.stopped_by == "max_iter"
        losses[method] = log.loss[-1]
        if method == "BFGS":
            fitted, fresh_start_loss = data, log.loss[0]
    assert losses["BFGS"] < losses["L-BFGS-B"]  # the reason BFGS is the default
    # warm start on the whole set: least squares on the fitted radial basis, then BFGS;
    # it starts far below a fresh start (loss per configuration)
    log = motep_api.train(fitted, li2s_labelled, WEIGHTS, 5, 0, warm=True, plateau_rel_tol=0.0)
    assert log.n_iterations == 5 and log.loss[-1] <= log.loss[0]
    assert log.loss[0] < 0.5 * fresh_start_loss


def test_unfilled_active_set_rows_are_not_shown_as_warnings(caplog):
    import logging

    import numpy as np

    import ionflow.mtp.motep_api  # noqa: F401  (installs the filter)

    logger = logging.getLogger("motep.grade.maxvol")
    with caplog.at_level(logging.WARNING):
        logger.warning("Some parameters have not been selected.")
        logger.warning(np.array([93, 94, 95]))
        logger.warning("maxvol did not converge")
    assert [r.getMessage() for r in caplog.records] == ["maxvol did not converge"]
