"""Local development services: Cassandra 5.0 and RabbitMQ started as real processes, plus local Airflow."""
