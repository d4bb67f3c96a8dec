"""Applications of the Python stream frameworks (Quix Streams, faust-streaming, FastStream) that
tests/ecosystem/test_python_frameworks.py runs as subprocesses, each in the interpreter that has
its framework installed. They use only their framework and its Kafka client, never ferrokafka."""
