"""The broker's transport on Redis (broker_portal/redis_broker.py): one client for kombu's own commands, and the
late-ack bookkeeping it does with that client still holds a delivered message until it is acknowledged."""

import uuid

from kombu import Exchange, Queue

from broker_portal.celery import app
from broker_portal.redis_broker import Channel


def test_the_workers_channel_keeps_one_client_for_its_own_commands(settings):
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        assert isinstance(channel, Channel)
        assert channel._create_client() is channel._create_client()


def test_a_replaced_pool_gets_a_client_of_its_own():
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        before = channel._create_client()
        channel._pool = None  # what kombu does when it drops its connections
        after = channel._create_client()
        assert after is not before
        assert after.connection_pool is channel.pool


def test_a_delivered_message_is_held_as_unacknowledged_until_its_ack():
    name = f"test-redis-broker-{uuid.uuid4().hex}"
    queue = Queue(name, Exchange(name), routing_key=name)
    with app.connection_for_write() as connection:
        simple = connection.SimpleQueue(queue)
        try:
            simple.put({"refresh": 1})
            message = simple.get(timeout=5)
            channel = simple.channel
            held = channel.client.hexists(channel.unacked_key, message.delivery_tag)
            message.ack()
            released = not channel.client.hexists(channel.unacked_key, message.delivery_tag)
            assert message.payload == {"refresh": 1}
            assert held and released
        finally:
            simple.queue.delete()
            simple.close()
