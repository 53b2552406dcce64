"""Calibration: calibrator list and transits, the calibration registry rule, DP3."""
