"""Settings: typed values from defaults, the config file and the environment, loaded in one step."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import settings
from core.settings import Settings, SettingsError, load


def test_tuple_from_environment_is_a_tuple_of_ints():
    s = load({"HOSPITAL_HOTSPOTS_PATROL_VISIT_MIN": "10,14"})
    assert s.patrol_visit_min == (10, 14)
    assert load({"HOSPITAL_HOTSPOTS_ACTION_DURATIONS_H": "[2, 5]"}).action_durations_h == (2, 5)


def test_var_dir_from_the_config_file_moves_the_store(tmp_path):
    cfg = tmp_path / "hh.yaml"
    cfg.write_text(f"var_dir: {tmp_path / 'elsewhere'}\nhospital_radius_m: 300\n", encoding="utf-8")
    s = load({"HOSPITAL_HOTSPOTS_CONFIG": str(cfg)})
    assert s.var_dir == tmp_path / "elsewhere" and isinstance(s.var_dir, Path)
    assert s.db_url == f"sqlite:///{tmp_path / 'elsewhere' / 'hotspots.sqlite'}"
    assert s.hospital_radius_m == 300.0


def test_environment_wins_over_the_file_and_explicit_db_url_is_kept(tmp_path):
    cfg = tmp_path / "hh.yaml"
    cfg.write_text("grid_size_m: 150\n", encoding="utf-8")
    s = load({"HOSPITAL_HOTSPOTS_CONFIG": str(cfg), "HOSPITAL_HOTSPOTS_GRID_SIZE_M": "200",
              "HOSPITAL_HOTSPOTS_DB": "postgresql+psycopg://u@h/db", "HOSPITAL_HOTSPOTS_VAR": str(tmp_path)})
    assert s.grid_size_m == 200.0
    assert s.db_url == "postgresql+psycopg://u@h/db"


def test_bad_values_are_all_named_at_once(tmp_path):
    cfg = tmp_path / "hh.yaml"
    cfg.write_text("no_such_setting: 1\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="no_such_setting") as err:
        load({"HOSPITAL_HOTSPOTS_CONFIG": str(cfg), "HOSPITAL_HOTSPOTS_PATROL_VISIT_MIN": "10,14,18",
              "HOSPITAL_HOTSPOTS_GRID_SIZE_M": "wide"})
    assert "patrol_visit_min" in str(err.value) and "grid_size_m" in str(err.value)


def test_dict_settings_from_yaml_and_shift_tuples():
    s = load({"HOSPITAL_HOTSPOTS_PATROL_SHIFTS": "{早班: [06:00, '14:00', '11:00', '12:30']}"})
    assert s.patrol_shifts == {"早班": ("06:00", "14:00", "11:00", "12:30")}


def test_module_attributes_read_the_current_settings_and_configure_derives():
    before = settings.current()
    try:
        settings.configure(var_dir=Path("/tmp/hh-elsewhere"))
        assert Path("/tmp/hh-elsewhere") == settings.VAR_DIR
        assert settings.DB_URL == "sqlite:////tmp/hh-elsewhere/hotspots.sqlite"
        assert Settings().patrol_visit_min == settings.PATROL_VISIT_MIN
    finally:
        settings.configure(before)
    with pytest.raises(AttributeError, match="NO_SUCH"):
        _ = settings.NO_SUCH
