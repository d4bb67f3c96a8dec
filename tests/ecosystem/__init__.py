"""The Kafka ecosystem against ferrokafka: Connect, MirrorMaker 2, Kafka Streams and Python
stream frameworks, each started from its published package (issue 20)."""
