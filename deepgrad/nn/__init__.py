"""Neural-network building blocks: ``Module``, ``Parameter``, layers, ``init`` and ``functional``."""
from . import functional  # noqa: F401
from . import init  # noqa: F401
from . import utils  # noqa: F401
from .activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh  # noqa: F401
from .batchnorm import BatchNorm1d, BatchNorm2d  # noqa: F401
from .batchnorm import BatchNormReLU2d  # noqa: F401
from .container import ModuleDict, ModuleList, Sequential  # noqa: F401
from .dropout import Dropout  # noqa: F401
from .linear import Flatten, Identity, Linear  # noqa: F401
from .module import Module  # noqa: F401
from .parameter import Parameter  # noqa: F401
from .utils import clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters  # noqa: F401
from .conv import Conv1d, Conv2d, Conv2dReLUMaxPool2d, ConvTranspose2d  # noqa: F401,E402
from .pooling import AdaptiveAvgPool2d, AvgPool2d, GlobalAvgPool2d, MaxPool2d  # noqa: F401,E402
from .module import RemovableHandle, register_module_forward_hook, register_module_forward_pre_hook  # noqa: F401,E402
from .embedding import Embedding  # noqa: F401,E402
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell  # noqa: F401,E402
