@echo off
rem Isolated environment: node_modules pinned by package-lock.json, engine built once (dist\).
cd /d "%~dp0"
where node >nul 2>nul || (echo install.bat: Node.js 20.19 or newer is required & exit /b 1)
call npm ci --no-audit --no-fund || exit /b 1
call npm run build --silent || exit /b 1
