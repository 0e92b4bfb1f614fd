"""Moving runs between forkpoint and other trackers: export (TensorBoard, MLflow, W&B offline,
Parquet/CSV) and import (TensorBoard, MLflow, trackio, W&B offline)."""
