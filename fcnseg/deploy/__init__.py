"""Deployment: `export` (exporter) writes a TF Serving SavedModel (saved_model) and TFLite files
(tflite) of a model rebuilt for export (exportable), and checks each against the Keras model."""

from fcnseg.deploy.exporter import ExportConfig, export

__all__ = ["ExportConfig", "export"]
