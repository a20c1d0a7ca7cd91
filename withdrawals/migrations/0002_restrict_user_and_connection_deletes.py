import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('connectors', '0002_refresh_health'),
        ('withdrawals', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='withdrawal',
            name='connection',
            field=models.ForeignKey(on_delete=django.db.models.deletion.RESTRICT, related_name='withdrawals', to='connectors.exchangeconnection'),
        ),
        migrations.AlterField(
            model_name='withdrawal',
            name='user',
            field=models.ForeignKey(on_delete=django.db.models.deletion.RESTRICT, related_name='withdrawals', to=settings.AUTH_USER_MODEL),
        ),
    ]
