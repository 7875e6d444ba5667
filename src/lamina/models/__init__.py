"""lamina.models: the model zoo, each model a Module with ``from_config`` and a registered name.

    from lamina.models import create_model, resnet20
    model = create_model("resnet8", num_classes=10)       # or resnet20(), ResNet(depth=32), ...
    list_models()          # ['lenet', 'lenet5', 'mlp', 'resnet', 'resnet110', 'resnet20', ..., 'vgg']

MLP (any widths), LeNet5 (32x32, 28x28 and 8x8 inputs), CIFAR ResNets (depth 6n + 2), VGG (a cfg list).
Autoencoders (dense, convolutional, denoising) and VAEs (Bernoulli/Gaussian decoders, conditional).
"""
from .ae_data import MaskingNoise, ReconstructionDataset
from .autoencoder import Autoencoder, ConvAutoencoder, DenoisingAutoencoder, ReconstructionLoss, reconstruction_error
from .bert import BaseModelOutputWithPooling, BertConfig, BertModel, bert_key_map
from .bert_classifier import BertClassifier  # importing it registers "bert_classifier"
from .gan import (GAN, ConditionalGAN, DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator,
                  dcgan_init_, image_grid)  # registers 'gan', 'cgan', 'dcgan', 'mlp_gan', 'wgan_gp'
from .gpt import GPT, GPTConfig, KVCache, build_gpt, sample_logits  # importing it registers "gpt"
from .gpt_data import CharDataset, CharTokenizer, RandomWindowSampler, default_text
from .lenet import LeNet5
from .mlp import MLP
from .registry import (Configurable, build_from_config, create_model, describe_models, get_model_class, list_models,
                       model_config, register_model)
from .resnet import BasicBlock, ResNet, resnet8, resnet20, resnet32, resnet44, resnet56, resnet110
from .conditional_vae import ConditionalVAE
from .vae import VAE
from .vae_loss import (BernoulliVAEOutput, ELBOLoss, GaussianVAEOutput, KLWarmup, bernoulli_log_likelihood, gaussian_kl,
                       gaussian_log_likelihood)
from .vgg import VGG, VGG_CFGS

__all__ = ["GAN", "ConditionalGAN", "DCGANGenerator", "DCGANDiscriminator", "MLPGenerator", "MLPDiscriminator",
           "dcgan_init_", "image_grid", "GPT", "GPTConfig", "KVCache", "build_gpt", "sample_logits", "CharDataset", "CharTokenizer",
           "RandomWindowSampler", "default_text", "BaseModelOutputWithPooling", "BertClassifier", "BertConfig", "BertModel", "bert_key_map", "BasicBlock", "Configurable", "LeNet5", "MLP", "ResNet", "VGG", "VGG_CFGS", "build_from_config",
           "create_model", "describe_models", "get_model_class", "list_models", "model_config", "register_model",
           "resnet8", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110",
           "Autoencoder", "ConvAutoencoder", "DenoisingAutoencoder", "MaskingNoise", "ReconstructionDataset",
           "ReconstructionLoss", "reconstruction_error", "VAE", "ConditionalVAE", "BernoulliVAEOutput", "ELBOLoss",
           "GaussianVAEOutput", "KLWarmup", "bernoulli_log_likelihood", "gaussian_kl", "gaussian_log_likelihood"]
from .simclr import ProbeResult, SimCLR, encoder_features, fine_tune, linear_probe  # noqa: E402  registers "simclr"
from .spiking import SpikeRecord, SpikingMLP  # noqa: E402  registers "spiking_mlp" / "snn_mlp"
__all__ += ["ProbeResult", "SimCLR", "encoder_features", "fine_tune", "linear_probe", "SpikeRecord", "SpikingMLP"]
