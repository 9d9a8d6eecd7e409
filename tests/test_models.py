"""Tests of wrcr.models: sizes, modalities, dense input and the config round trip."""

from __future__ import annotations

import pytest
import torch

from wrcr.models import (
    ModelConfig,
    PopularityModel,
    input_for_modalities,
    modalities_for_input,
)


def _inputs(config: ModelConfig, B: int = 5) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        m: torch.randn(B, d, generator=g)
        for m, d in zip(config.modalities, config.embed_dims, strict=True)
    }


def test_thesis_defaults_give_thesis_shapes():
    """Default config: f_p of 256, contrast output of 64, one prediction per post."""
    config = ModelConfig()
    model = PopularityModel(config)
    out = model(_inputs(config, B=4))
    assert out.pred.shape == (4,)
    assert out.features.shape == (4, 256)
    assert out.contrast.shape == (4, 64)


def test_thesis_layer_sizes():
    """Projection 384 -> 1536 -> 128, contrast head 256 -> 256 -> 64, regressor 256 -> 256 -> 1."""
    model = PopularityModel(ModelConfig())
    proj = model.proj["image"]
    assert (proj[0].in_features, proj[0].out_features, proj[2].out_features) == (384, 1536, 128)
    assert isinstance(proj[1], torch.nn.LeakyReLU)
    head = model.contrast_head
    assert (head[0].in_features, head[0].out_features, head[2].out_features) == (256, 256, 64)
    assert isinstance(head[1], torch.nn.ReLU)
    reg = model.regressor
    assert (reg[0].in_features, reg[0].out_features, reg[2].out_features) == (256, 256, 1)


def test_one_modality_gives_128_features():
    """A text-only model has f_p of width 128 and needs no image input."""
    config = ModelConfig(modalities=("text",), embed_dims=(384,))
    out = PopularityModel(config)(_inputs(config))
    assert out.features.shape == (5, 128)
    assert config.feature_dim == 128


def test_modalities_stored_image_first():
    """Modalities listed text-first are stored in f_p order (image, text) with their dims."""
    config = ModelConfig(modalities=("text", "image"), embed_dims=(10, 20))
    assert config.modalities == ("image", "text")
    assert config.embed_dims == (20, 10)


def test_features_are_image_then_text():
    """f_p's first half is the image projection, the second the text projection."""
    config = ModelConfig(embed_dims=(6, 7), proj_hidden=8, proj_dim=3)
    model = PopularityModel(config)
    inputs = _inputs(config)
    out = model(inputs)
    torch.testing.assert_close(out.features[:, :3], model.proj["image"](inputs["image"]))
    torch.testing.assert_close(out.features[:, 3:], model.proj["text"](inputs["text"]))


def test_dense_features_feed_the_regressor():
    """With dense_dim > 0 the regressor input widens and the dense values change the prediction."""
    config = ModelConfig(modalities=("text",), embed_dims=(8,), proj_hidden=16, dense_dim=3)
    torch.manual_seed(0)
    model = PopularityModel(config)
    inputs = _inputs(config)
    assert model.regressor[0].in_features == 128 + 3
    a = model(inputs, torch.zeros(5, 3)).pred
    b = model(inputs, torch.ones(5, 3)).pred
    assert not torch.allclose(a, b)


def test_regressor_hidden_sizes():
    """regressor_hidden sets the hidden layers; () makes the regressor linear."""
    deep = PopularityModel(ModelConfig(regressor_hidden=(32, 16)))
    widths = [m.out_features for m in deep.regressor if isinstance(m, torch.nn.Linear)]
    assert widths == [32, 16, 1]
    linear = PopularityModel(ModelConfig(regressor_hidden=()))
    assert len(linear.regressor) == 1


def test_missing_modality_raises():
    """A forward without a modality the model uses names the missing key."""
    config = ModelConfig(embed_dims=(4, 4), proj_hidden=8)
    inputs = _inputs(config)
    del inputs["text"]
    with pytest.raises(ValueError, match=r"lack modality \['text'\]"):
        PopularityModel(config)(inputs)


def test_dense_required_when_configured():
    """A model built with dense_dim > 0 refuses a forward without dense features."""
    config = ModelConfig(modalities=("image",), embed_dims=(4,), proj_hidden=8, dense_dim=2)
    with pytest.raises(ValueError, match="dense features of dim 2"):
        PopularityModel(config)(_inputs(config))


def test_dense_rejected_when_not_configured():
    """A model built with dense_dim=0 refuses dense features instead of ignoring them."""
    config = ModelConfig(modalities=("image",), embed_dims=(4,), proj_hidden=8)
    with pytest.raises(ValueError, match="dense_dim=0"):
        PopularityModel(config)(_inputs(config), torch.zeros(5, 2))


def test_config_dict_round_trip():
    """to_dict is JSON-ready (lists) and from_dict rebuilds an equal config."""
    config = ModelConfig(modalities=("text",), embed_dims=(12,), dense_dim=8, regressor_hidden=(7,))
    data = config.to_dict()
    assert data["modalities"] == ["text"] and data["regressor_hidden"] == [7]
    assert ModelConfig.from_dict(data) == config


def test_config_from_dict_rejects_unknown_key():
    """An unknown key in a stored config is an error, not silently dropped."""
    with pytest.raises(ValueError, match=r"unknown ModelConfig key\(s\) \['hidden'\]"):
        ModelConfig.from_dict({"hidden": 3})


def test_config_rejects_unknown_modality():
    """A modality outside (image, text) is refused, naming the allowed ones."""
    with pytest.raises(ValueError, match="modalities must be distinct names from"):
        ModelConfig(modalities=("audio",), embed_dims=(4,))


def test_config_rejects_dims_not_matching_modalities():
    """embed_dims needs one entry per modality."""
    with pytest.raises(ValueError, match="one dim per modality"):
        ModelConfig(modalities=("image", "text"), embed_dims=(384,))


def test_input_names_map_to_modalities():
    """'tags' is the text embedding, 'tags+image' both; the mapping inverts."""
    assert modalities_for_input("tags") == ("text",)
    assert modalities_for_input("tags+image") == ("image", "text")
    assert input_for_modalities(("text", "image")) == "tags+image"
    with pytest.raises(ValueError, match="input must be one of"):
        modalities_for_input("title")
