"""The ensemble of the best candidates: one model whose logit is the mean of its members' logits.

It is a committor model like any other (one input, one logit output; evaluated, validated and explained the
same way), saved as ``model.keras`` and exported as one SavedModel whose ``serving_default`` also returns the
members' spread (``logit_std``, ``committor_std``) as an uncertainty.
"""


def ensemble_model(models, name="committor_ensemble"):
    """A Keras model averaging the logits of ``models`` (all taking the same features).

    Args:
        models: committor models (raw features (None, F) -> logit (None, 1)).
        name: the ensemble's name.

    Returns:
        keras.Model with the members as nested models ``member_0``, ``member_1``, ...
    """
    import keras

    members = wrap_members(models)
    inputs = keras.Input(shape=members[0].inputs[0].shape[1:], dtype="float32", name="features")
    logit = keras.layers.Average(name="logit")([member(inputs) for member in members])
    return keras.Model(inputs, logit, name=name)


def wrap_members(models):
    """The members renamed ``member_<i>`` (every committor model is named ``committor``; names must differ)."""
    import keras

    return [keras.Model(model.inputs[0], model.outputs[0], name=f"member_{i}") for i, model in enumerate(models)]


def export_ensemble(models, out_dir, data, **card_fields):
    """Export the ensemble of ``models`` to ``out_dir`` (``model.keras``, ``saved_model/1``, ``card.json``).

    Args:
        models: the member committor models.
        out_dir: the directory to write (replaced atomically).
        data: the CommittorData they were trained from.
        **card_fields: passed to :func:`committor_keras.export.build_card`; ``info`` gains ``ensemble_size``.

    Returns:
        dict, the model card.
    """
    from committor_keras.export import export_model

    ensemble = ensemble_model(models)
    members = [layer for layer in ensemble.layers if layer.name.startswith("member_")]
    info = {**card_fields.pop("info", {}), "ensemble_size": len(members),
            "uncertainty": "serving_default also returns logit_std and committor_std, the standard deviations "
                           "of the members' logits and committors"}
    return export_model(ensemble, out_dir, data, members=members, info=info, **card_fields)
