/// CPU kernels over raw buffers. Shapes are checked by the callers (the layers in Diffusion).
///
/// One file per operator family: `Kernels+Linear` (linear, transpose), `Kernels+Convolution` (conv2d,
/// im2col), `Kernels+Normalization` (groupNorm, layerNorm), `Kernels+Attention`, `Kernels+Activation`
/// (silu, gelu, quickGelu, geglu) and `Kernels+Resampling` (upsampleNearest).
public enum Kernels {}
