@echo off
rem Single point of execution: installs on first use, then runs the pipeline. Arguments go to batch.
cd /d "%~dp0"
if not exist dist\cli\main.js call install.bat || exit /b 1
if not exist node_modules call install.bat || exit /b 1
node bin\batch.js %*
exit /b %ERRORLEVEL%
