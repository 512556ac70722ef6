"""Training: everything the cartoon GAN needs beyond the inference engine in `core`.

Config, data, checkpoints and evaluation sit beside the GAN's parts: PatchGAN discriminators, the White-box
surface/texture/structure representations, frozen feature backbones (VGG19, EfficientNet-Lite0), Bai's semantic
segmenter with its file format, and the losses that tie them together. Every image tensor crossing the GAN parts'
APIs is (N, 3, H, W) RGB in [-1, 1] (the generator's own convention); each pretrained network converts to its
weights' convention internally. No Qt here, and `core` never imports this package.
"""
