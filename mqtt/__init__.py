"""MQTT: the client lifecycle every service uses, and the broker's access rules."""
