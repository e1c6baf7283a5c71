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
