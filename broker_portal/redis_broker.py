"""kombu's Redis transport with one Redis client per channel for its own commands (CELERY_BROKER_TRANSPORT).

With late acks every message costs kombu two writes of its own besides the BRPOP that receives it: the message
noted as unacknowledged when it is delivered, and that note removed with the ack (a publish is one more). kombu
builds a new ``redis.Redis`` for each, and building one copies its table of some 170 response callbacks: about
60 µs, twice a refresh, of a worker's CPU per refresh (bench/README.md, "At an exchange's latency"). A client
holds no connection of its own (each command takes one from the pool and gives it back), so one client per
channel does the same work; it is built again if the channel's pool is replaced (after a lost connection).
"""

from kombu.transport import redis


class Channel(redis.Channel):
    _sync_client = None

    def _create_client(self, asynchronous=False):
        if asynchronous:
            return super()._create_client(asynchronous=True)
        client = self._sync_client
        if client is None or client.connection_pool is not self.pool:
            client = self._sync_client = super()._create_client()
        return client


class Transport(redis.Transport):
    Channel = Channel
