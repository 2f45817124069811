from placement import create_app

app = create_app()
