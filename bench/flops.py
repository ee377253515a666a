"""Forward-pass FLOPs of a model, counted by TensorFlow's graph profiler."""

import gc

import keras
import tensorflow as tf

import fcnseg


def forward_flops(name, height, width, num_classes, **options):
    """FLOPs of one float32 forward pass at 1 x height x width x 3, from the TF1 graph profiler.

    A multiply-add counts 2; ops the profiler has no count for (resizes, activations) add 0.
    """
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        model = fcnseg.build_model(name, num_classes, (height, width, 3), encoder_weights=None, **options)
        forward = tf.function(lambda images: model(images, training=False))
        graph = forward.get_concrete_function(tf.TensorSpec([1, height, width, 3], tf.float32)).graph
        profiler_options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        profiler_options["output"] = "none"
        logger_level = tf.get_logger().level
        tf.get_logger().setLevel("ERROR")  # the TF1 profiler warns that it uses TF1 APIs
        try:
            run_meta = tf.compat.v1.RunMetadata()
            profile = tf.compat.v1.profiler.profile(graph=graph, run_meta=run_meta, cmd="op", options=profiler_options)
        finally:
            tf.get_logger().setLevel(logger_level)
        return profile.total_float_ops
    finally:
        keras.config.set_dtype_policy(previous_policy)
        keras.backend.clear_session()
        gc.collect()
