"""Course 4 (convolutional networks): building blocks, a model zoo, augmentation and
transfer-learning helpers, all on the public ``deepgrad.nn`` API."""
from . import (  # noqa: F401
    blocks,
    boxes,  # noqa: F401,E402
    models,
    transfer,
    transforms,
)
from .blocks import Bottleneck, InceptionModule, InvertedResidual, ReLU6, ResidualBlock  # noqa: F401
from .models import (  # noqa: F401
    LeNet5,
    MobileNetV2Small,
    ResNet,
    ResNetSmall,
    SmallInception,
    SmallVGG,
    build_model,
    count_parameters,
    summary,
)
from .transfer import freeze, param_groups, replace_head, unfreeze  # noqa: F401
