"""SavedModel export with explicit TF Serving signatures.

The exported graph takes raw features (the model's own Normalization layer is inside it) and serves
``serving_default``: ``features`` float32 (None, F) -> ``{"committor": (None, 1), "logit": (None, 1)}``,
``logit``: ``features`` -> ``{"logit": (None, 1)}``, and ``gradient``: ``features`` -> the logit and committor
with their gradients with respect to the raw features, ``dlogit_dx`` = dz/dx and ``dcommittor_dx`` = dq/dx =
q (1 - q) dz/dx, each (None, F) (rows are independent, so one tape over the batch gives every row's gradient).
An ensemble (mean logit of member models) also serves its members' spread in ``serving_default``:
``logit_std`` and ``committor_std`` (standard deviations over members).
"""

from pathlib import Path

from committor_keras._provenance import atomic_directory

INPUT_NAME = "features"
SERVING_SIGNATURE = "serving_default"
LOGIT_SIGNATURE = "logit"
GRADIENT_SIGNATURE = "gradient"
GRADIENT_OUTPUTS = ("dlogit_dx", "dcommittor_dx")
_OUTPUTS = {SERVING_SIGNATURE: ("committor", "logit"), LOGIT_SIGNATURE: ("logit",),
            GRADIENT_SIGNATURE: ("committor", "logit") + GRADIENT_OUTPUTS}
SPREAD_OUTPUTS = ("logit_std", "committor_std")


def signature_description(n_features, spread=False):
    """The served signatures as JSON-ready dicts (the model card records them).

    Args:
        n_features: F, the number of input features.
        spread: whether ``serving_default`` also serves an ensemble's ``logit_std`` and ``committor_std``.

    Returns:
        dict signature name -> {"inputs": {...}, "outputs": {...}} with dtype and shape (``None`` = any).
    """
    def tensor(output):
        return {"dtype": "float32", "shape": [None, n_features if output in GRADIENT_OUTPUTS else 1]}

    return {
        name: {"inputs": {INPUT_NAME: {"dtype": "float32", "shape": [None, n_features]}},
               "outputs": {output: tensor(output) for output in
                           (*outputs, *(SPREAD_OUTPUTS if spread and name == SERVING_SIGNATURE else ()))}}
        for name, outputs in _OUTPUTS.items()
    }


def model_n_features(model):
    """F of a committor model, checking the model contract: one (None, F) input, one (None, 1) output.

    Raises:
        ValueError: the model does not follow the contract.
    """
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"a committor model has one input and one output (the logit); {model.name} has "
                         f"{len(model.inputs)} input(s) and {len(model.outputs)} output(s)")
    input_shape, output_shape = tuple(model.inputs[0].shape), tuple(model.outputs[0].shape)
    if len(input_shape) != 2 or input_shape[1] is None or output_shape[1:] != (1,):
        raise ValueError(f"a committor model maps (None, F) features to a (None, 1) logit; {model.name} maps "
                         f"{input_shape} to {output_shape}")
    return int(input_shape[1])


def export_saved_model(model, path, members=None):
    """Write ``model`` as a SavedModel with the committor signatures, atomically.

    For TF Serving, ``path`` is a numbered version directory such as ``top/01/saved_model/1``.

    Args:
        model: a committor model (raw float32 features (None, F) -> logit (None, 1)).
        path: the SavedModel directory to create (replaced if it exists).
        members: for an ensemble whose logit is the mean of these committor models' logits: they add
            ``logit_std`` and ``committor_std`` (population standard deviations over members) to
            ``serving_default``.

    Returns:
        pathlib.Path of the written directory.
    """
    import keras
    import tensorflow as tf

    n_features = model_n_features(model)
    spec = [tf.TensorSpec((None, n_features), tf.float32, name=INPUT_NAME)]

    # The argument name of these functions becomes the signature's input key, so it must be `features`.
    def serve(features):
        logit = model(features, training=False)
        outputs = {"committor": tf.sigmoid(logit), "logit": logit}
        if members:
            logits = tf.concat([member(features, training=False) for member in members], axis=1)
            outputs["logit_std"] = tf.math.reduce_std(logits, axis=1, keepdims=True)
            outputs["committor_std"] = tf.math.reduce_std(tf.sigmoid(logits), axis=1, keepdims=True)
        return outputs

    def logit_only(features):
        return {"logit": model(features, training=False)}

    def gradient(features):
        with tf.GradientTape() as tape:
            tape.watch(features)
            logit = model(features, training=False)
        dlogit = tape.gradient(logit, features)
        committor = tf.sigmoid(logit)
        return {"committor": committor, "logit": logit, "dlogit_dx": dlogit,
                "dcommittor_dx": committor * (1.0 - committor) * dlogit}

    archive = keras.export.ExportArchive()
    archive.track(model)
    for member in members or ():
        archive.track(member)
    archive.add_endpoint(SERVING_SIGNATURE, serve, input_signature=spec)
    archive.add_endpoint(LOGIT_SIGNATURE, logit_only, input_signature=spec)
    archive.add_endpoint(GRADIENT_SIGNATURE, gradient, input_signature=spec)
    with atomic_directory(path) as tmp:
        archive.write_out(str(tmp), verbose=False)
    return Path(path)
