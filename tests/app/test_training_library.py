"""The Training tab (start, cancel, resume, load into the viewer) and the pose library tab."""
import shutil
from pathlib import Path

from PySide6.QtCore import Qt

from tests.app.conftest import wait_idle
from tests.helpers import file_size_limit, tiny_config
from tests.media import STANDING, T_POSE, Y_POSE, write_video
from vvipe_core.config import TrainConfig
from vvipe_core.train_progress import TrainingCurves, read_saved_run

RUN_TIMEOUT_MS = 120_000


def test_the_form_round_trips_a_config_and_its_toml(window, tmp_path):
    panel = window.train_panel
    cfg = tiny_config(beta=0.002, triplet=False, realign="yaw", seed=7, mapper_lr=3e-4)
    panel.set_config(cfg)
    assert panel.config().to_dict() == cfg.to_dict()
    panel.embedding_dim.setValue(12)
    panel.elevation_high.setValue(45.0)
    panel.save_config(tmp_path / "train.toml")
    loaded = TrainConfig.from_file(tmp_path / "train.toml")
    assert loaded.model.embedding_dim == 12 and loaded.cameras.elevation == (-30.0, 45.0)
    assert loaded.model.width == cfg.model.width  # fields the form does not show are kept
    panel.set_config(TrainConfig())
    panel.load_config(tmp_path / "train.toml")
    assert panel.config().to_dict() == loaded.to_dict()


def test_a_failed_config_save_keeps_the_previous_file_and_says_why(window, tmp_path):
    target = tmp_path / "train.toml"
    target.write_text("previous")
    with file_size_limit(64):  # `ulimit -f`: the TOML is longer
        window.train_panel.save_config(target)
    assert target.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir() if p.name != "settings.ini"] == ["train.toml"]
    assert window.state.status.message == f"{target}: file too large for this system's limit"
    assert window.state.status.is_error
    target.write_text("batch_size = 0\n")
    window.train_panel.load_config(target)
    assert window.state.status.message == f"{target}: batch_size = 0: must be at least 2"


def test_train_cancel_resume_and_load_into_the_viewer(window, qtbot, tmp_path):
    panel, training = window.train_panel, window.training
    out = tmp_path / "run.pt"
    panel.set_config(tiny_config(vae_epochs=40, mapper_epochs=2))
    panel.out.edit.setText(str(out))
    window.tabs.setCurrentWidget(panel)
    panel.start.click()
    assert panel.cancel.isEnabled() and not panel.start.isEnabled()
    run = training.thread

    def cancel_in_the_second_epoch(event):  # in the training thread: no race with the run
        if event.epoch == 1 and event.step == 1:
            run.cancel.set()

    run.event.connect(cancel_in_the_second_epoch, Qt.ConnectionType.DirectConnection)
    qtbot.waitUntil(lambda: len(panel.curve("Losses", "vae recon")[0]) >= 3,
                    timeout=RUN_TIMEOUT_MS)
    panel.cancel.click()  # what the user does; the run may already be stopping
    qtbot.waitUntil(lambda: not training.running, timeout=RUN_TIMEOUT_MS)
    assert training.result.cancelled and not panel.load_result.isEnabled()
    saved = read_saved_run(out)  # a valid checkpoint, with where it stopped
    position = saved.position
    assert position == {"stage": "vae", "epoch": 1, "step": 1}  # mid-epoch
    stopped_at = (TrainingCurves(saved.config, 6).offset(position["stage"])
                  + position["epoch"] * 6 + position["step"])
    before, _ = panel.curve("Losses", "vae recon")
    assert before[-1] <= stopped_at and panel.curve("Validation MPJPE", "vae recon_mpjpe_mm")[0]

    panel.resume.click()
    qtbot.waitUntil(lambda: not training.running, timeout=RUN_TIMEOUT_MS)
    assert not training.result.cancelled and "finished" in panel.log.toPlainText()
    after, _ = panel.curve("Losses", "vae recon")
    assert after[: len(before)] == before and min(after[len(before):]) > stopped_at
    assert panel.curve("Validation Hit@1", "mapper hit@1")[0] == [246, 252]
    assert read_saved_run(out).position is None

    assert panel.load_result.isEnabled()
    panel.load_result.click()
    wait_idle(qtbot, window, lambda: window.state.source.model.source == str(out))
    assert window.state.source.gallery.checkpoint == str(out)
    assert window.pose_panel.view.joints().shape == (17, 3)


def test_a_library_is_built_searched_and_a_video_hit_opens_at_its_frame(window, qtbot,
                                                                        tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    for photo in (T_POSE, Y_POSE):
        shutil.copy(photo, media / photo.name)
    write_video(media / "clip.avi", [None, STANDING, STANDING])
    window.tabs.setCurrentWidget(window.library_panel)
    window.controller.library.build(tmp_path / "lib", [media])
    wait_idle(qtbot, window, lambda: bool(window.state.library.hits), timeout=RUN_TIMEOUT_MS)
    hits = window.state.library.hits
    assert len(window.state.library.library) == 4 and len(hits) == 4
    assert Path(hits[0][0].entry.file).name == T_POSE.name  # the shown photo finds itself
    panel = window.library_panel
    assert panel.hits.count() == 4 and T_POSE.name in panel.hits.item(0).text()
    row = next(i for i, (hit, _) in enumerate(hits) if hit.entry.frame == 2)
    assert "0.20 s" in panel.hits.item(row).text()
    panel.hits.itemDoubleClicked.emit(panel.hits.item(row))
    wait_idle(qtbot, window, lambda: window.state.source.sequence is not None,
              timeout=RUN_TIMEOUT_MS)
    assert window.state.source.frame == 2 and window.state.source.video_frame is not None


def test_indexing_can_be_cancelled_and_built_again(window, qtbot, tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    write_video(media / "long.avi", [T_POSE] * 40)
    window.controller.library.build(tmp_path / "lib", [media])
    assert window.cancel.isVisibleTo(window)
    window.cancel.click()
    wait_idle(qtbot, window)
    assert window.state.library.hits == [] and window.error_text() == ""
    window.controller.library.build(tmp_path / "lib", [media])
    wait_idle(qtbot, window, lambda: bool(window.state.library.hits), timeout=RUN_TIMEOUT_MS)
    assert len(window.state.library.library) == 40


def test_a_picture_hit_opens_with_its_person_selected(window, qtbot, tmp_path):
    import cv2
    import numpy as np

    left, right = cv2.imread(str(T_POSE)), cv2.imread(str(STANDING))
    right = cv2.resize(right, (right.shape[1] * left.shape[0] // right.shape[0], left.shape[0]))
    group = tmp_path / "media" / "group.png"
    group.parent.mkdir()
    cv2.imwrite(str(group), np.hstack([left, right]))
    window.controller.library.build(tmp_path / "lib", [group.parent])
    wait_idle(qtbot, window, lambda: bool(window.state.library.hits), timeout=RUN_TIMEOUT_MS)
    second = next(hit for hit, _ in window.state.library.hits if hit.entry.person == 1)
    window.controller.library.open_hit(second)
    wait_idle(qtbot, window, lambda: window.state.source.picture.path == group.resolve())
    assert window.state.source.person == 1 and window.picture_panel.people.currentIndex() == 1
