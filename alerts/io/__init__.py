"""What the scheduler reads from InfluxDB and the broker."""
