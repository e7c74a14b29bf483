from committor_keras.validate._committor_test import committor_test  # noqa: E402,F401  (mdwater, issue 9)
from committor_keras.validate._transfer import channel_transfer, keras_fit  # noqa: E402,F401  (mdwater, issue 9)
