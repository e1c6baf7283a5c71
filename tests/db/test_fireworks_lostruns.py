"""FireWorks' lost-run detection (queries with $elemMatch, $lookup) on the embedded server."""

from __future__ import annotations

import time

from fireworks import Firework, FWorker, ScriptTask


def test_detect_lostruns_and_inconsistent_fireworks(launchpad, tmp_path):
    for name in ("lost", "inconsistent", "waiting"):
        launchpad.add_wf(Firework(ScriptTask.from_str("true"), name=name))
    ids = {fw["name"]: fw["fw_id"] for fw in launchpad.fireworks.find({}, {"name": 1, "fw_id": 1})}
    lost_fw, lost_launch = launchpad.checkout_fw(FWorker(), str(tmp_path), fw_id=ids["lost"])
    other_fw, other_launch = launchpad.checkout_fw(
        FWorker(), str(tmp_path), fw_id=ids["inconsistent"]
    )
    assert lost_fw.fw_id == ids["lost"] and other_fw.fw_id == ids["inconsistent"]
    launchpad.ping_launch(other_launch)
    launchpad.launches.update_one({"launch_id": other_launch}, {"$set": {"state": "COMPLETED"}})
    time.sleep(1.2)
    launchpad.ping_launch(other_launch)  # keep the second one fresh, only the first is lost

    launches, fws, inconsistent = launchpad.detect_lostruns(expiration_secs=1, rerun=True)
    assert launches == [lost_launch]
    assert fws == [ids["lost"]]
    assert inconsistent == [ids["inconsistent"]]
    assert launchpad.get_fw_by_id(ids["lost"]).state == "READY"  # rerun
    assert launchpad.get_fw_by_id(ids["waiting"]).state == "READY"  # untouched
