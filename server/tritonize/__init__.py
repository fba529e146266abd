"""tritonize: turn a PyTorch nn.Module into verified, fast Triton kernels."""

__version__ = "0.1.0"
