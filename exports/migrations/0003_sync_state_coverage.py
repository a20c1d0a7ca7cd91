from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("exports", "0002_export_job_started_at"),
    ]

    operations = [
        migrations.RemoveField(model_name="syncstate", name="pass_floor"),
        migrations.AddField(model_name="syncstate", name="pass_reach",
                            field=models.DateTimeField(blank=True, null=True)),
        migrations.AddField(model_name="syncstate", name="covered_from",
                            field=models.DateTimeField(blank=True, null=True)),
        migrations.AddField(model_name="syncstate", name="covered_to",
                            field=models.DateTimeField(blank=True, null=True)),
    ]
