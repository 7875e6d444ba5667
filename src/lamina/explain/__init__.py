"""lamina.explain: why a model said what it said — attributions computed with lamina's own autograd.

    from lamina.explain import saliency, integrated_gradients, grad_cam, occlusion
    a = integrated_gradients(model, x, target=3, n_steps=64)        # shaped like x (NumPy)
    cam = grad_cam(model, x, "features.3")                           # (N, H, W)
    plot_image_attribution(a[0], x[0], "ig.png")                     # heat map over the image

Every method is a function of ``(model, inputs, target)`` returning a NumPy array; ``target=None``
explains the predicted class. The model runs in eval mode while it is explained. Methods:
saliency, input_x_gradient, smoothgrad, integrated_gradients, occlusion, grad_cam (a conv layer by
module path), attention_maps (GPT, BERT, nn.MultiheadAttention), token_attributions (embedding
IG for text classifiers), permutation_importance and shap_values (tabular; ``shap`` is optional).
Adversarial attacks live in ``lamina.robust``.
"""
from ._common import ModuleNotFoundInModel
from .attention import attention_layers, attention_maps, stack_attention
from .gradcam import conv_layers, grad_cam
from .gradients import input_x_gradient, saliency, smoothgrad
from .integrated_gradients import integrated_gradients, quadrature
from .occlusion import occlusion
from .plots import plot_attention, plot_feature_importance, plot_image_attribution, plot_token_attribution
from .tabular import PermutationImportance, permutation_importance, predict_fn, shap_values
from .tokens import embedding_layer, token_attributions

__all__ = ["saliency", "input_x_gradient", "smoothgrad", "integrated_gradients", "quadrature", "occlusion",
           "grad_cam", "conv_layers", "attention_maps", "attention_layers", "stack_attention", "token_attributions",
           "embedding_layer", "permutation_importance", "PermutationImportance", "predict_fn", "shap_values",
           "plot_image_attribution", "plot_token_attribution", "plot_feature_importance", "plot_attention",
           "ModuleNotFoundInModel"]
