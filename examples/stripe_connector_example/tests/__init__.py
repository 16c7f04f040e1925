from . import test_extending
