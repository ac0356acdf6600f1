"""The training stage: feature frames in, a calibrated, registered model out.

``snapshots`` (the labelled spine), ``model`` (LightGBM + calibration), ``predictor``
(the one front-end every scorer uses), ``train``/``evaluate``/``baselines``
(fit and held-out metrics), ``fairness``, ``modelcard``, ``report``, and
``tracking`` (MLflow at the edge).
"""
